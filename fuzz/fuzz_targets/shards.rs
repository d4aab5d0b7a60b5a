#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| msntap::testkit::fuzzing::shards(data));
