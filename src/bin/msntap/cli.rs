//! Command-line flags (clap). `config` turns them into the library's configuration; the
//! library never sees clap, so the value enums here map onto its types.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// When to colour the transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// When stdout is a terminal, unless NO_COLOR is set, CLICOLOR=0 or TERM=dumb (CLICOLOR_FORCE colours a pipe too).
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// A server role, as `--role` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// Dispatch server.
    Ds,
    /// Notification server.
    Ns,
    /// Switchboard.
    Sb,
    /// Not decided.
    #[value(name = "unknown")]
    Unknown,
}

impl From<RoleArg> for msntap::msnp::Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Ds => msntap::msnp::Role::DS,
            RoleArg::Ns => msntap::msnp::Role::NS,
            RoleArg::Sb => msntap::msnp::Role::SB,
            RoleArg::Unknown => msntap::msnp::Role::Unknown,
        }
    }
}

/// A violation severity, as `--min-severity` and `--fail-on` take it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SeverityArg {
    /// Notable but allowed.
    Info,
    /// A "should", or a deviation real peers make.
    Warning,
    /// A "must" of the specification.
    Error,
}

impl From<SeverityArg> for msntap::rules::Severity {
    fn from(s: SeverityArg) -> Self {
        match s {
            SeverityArg::Info => msntap::rules::Severity::Info,
            SeverityArg::Warning => msntap::rules::Severity::Warning,
            SeverityArg::Error => msntap::rules::Severity::Error,
        }
    }
}

/// msntap: decode, pair and check MSN Messenger (MSNP2) traffic.
#[derive(Debug, Parser)]
#[command(name = "msntap", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// More diagnostics on stderr: -v what the proxy, sniffer and reader do, -vv debug, -vvv
    /// trace (RUST_LOG, when set, decides instead).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Fewer: -q errors only and no progress bars, -qq no diagnostics at all.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "verbose")]
    pub quiet: u8,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read a pcap or pcapng capture and show every MSNP command of every connection.
    Read(Box<ReadArgs>),
    /// Draw captures as a ladder: a column per endpoint (each user's client, each DS, NS and
    /// SB), an arrow per line with its TrID, answers with their latency, referrals with the
    /// connection they led to, violations with their rule ids.
    Ladder(Box<LadderArgs>),
    /// Write one self-contained HTML report per capture: overview, violations by rule, latency
    /// per verb, a ladder per user journey, and the transcript with filters and search.
    Report(Box<ReportArgs>),
    /// Test a server case by case, as a client (two where a case needs two users): each case's
    /// id, citation, what was sent, expected and received, and the verdict; every server line
    /// also goes through the analysis.
    CheckServer(Box<CheckArgs>),
    /// Print the catalog of spec rules msntap checks, with the dialects each holds in.
    Rules {
        /// Print it as the Markdown table of docs/rules.md.
        #[arg(long, conflicts_with = "json")]
        markdown: bool,
        /// Print it as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Capture live from a network interface and analyse as `read` does (needs the `live`
    /// feature and capture privileges).
    Sniff(Box<SniffArgs>),
    /// Relay a client to a real server, following its referrals, and decode live.
    Proxy(Box<ProxyArgs>),
    /// Run a small server (dispatch, notification, switchboard) for testing clients; it answers
    /// in the newest of MSNP2, 5, 7, 8, 11 and 13 that the client offers.
    Serve(ServeArgs),
    /// Start a server, the proxy in front of it and two scripted clients, and show the live
    /// transcript of their whole journey; ends by itself.
    Demo(DemoArgs),
    /// Write a synthetic MSNP2 capture of many users, for benchmarks (deterministic from a seed),
    /// or with --trid-stress one session of pipelined requests.
    Generate(GenerateArgs),
    /// Write a sample two-user capture (the ones in captures/: msnpN-two-users.pcap).
    Sample {
        /// Output file (default: msnpN-two-users.pcap).
        out: Option<PathBuf>,
        /// The dialect: 2, 5, 7, 8, 11 or 13.
        #[arg(long, default_value_t = 2, value_parser = dialect_arg)]
        dialect: u8,
    },
}

/// Output flags shared by `proxy` and `demo`.
#[derive(Debug, clap::Args)]
pub struct LiveOutput {
    /// Write the annotated session document as JSON to FILE when the proxy stops.
    #[arg(long, value_name = "FILE")]
    pub json: Option<String>,
    /// Stream one JSON object per line to FILE (`-` for stdout) as things happen.
    #[arg(long, value_name = "FILE")]
    pub ndjson: Option<String>,
    /// Record every relayed connection as TCP packets in a pcapng file.
    #[arg(long, value_name = "FILE.pcapng")]
    pub record: Option<PathBuf>,
    /// Colour the transcript.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Show cookies and MD5 responses instead of <redacted>.
    #[arg(long)]
    pub reveal_secrets: bool,
    /// Verify MD5 logins of HANDLE with SECRET; repeatable.
    #[arg(long = "password", value_name = "HANDLE=SECRET")]
    pub passwords: Vec<String>,
    /// When it stops, draw the whole session as a ladder after the live transcript.
    #[arg(long)]
    pub ladder: bool,
    /// When it stops, write the session's HTML report to FILE.
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// The ladder's shape.
    #[command(flatten)]
    pub ladder_flags: LadderFlags,
}

/// Flags of `msntap proxy`.
#[derive(Debug, clap::Args)]
pub struct ProxyArgs {
    /// Address clients connect to.
    #[arg(long, default_value = "127.0.0.1:1863")]
    pub listen: std::net::SocketAddr,
    /// The real server, HOST:PORT.
    #[arg(long)]
    pub upstream: String,
    /// Host written into rewritten referrals (default: the listen address).
    #[arg(long)]
    pub advertise: Option<String>,
    /// Seconds to wait for a server to accept a connection.
    #[arg(long, default_value_t = 10)]
    pub connect_timeout: u64,
    /// Stop after this many seconds (default: run until Ctrl-C or SIGTERM).
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<u64>,
    /// Outputs.
    #[command(flatten)]
    pub out: LiveOutput,
}

/// Flags of `msntap serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Dispatch server address.
    #[arg(long, default_value = "127.0.0.1:1863")]
    pub ds: std::net::SocketAddr,
    /// Notification server address.
    #[arg(long, default_value = "127.0.0.1:1866")]
    pub ns: std::net::SocketAddr,
    /// Switchboard address.
    #[arg(long, default_value = "127.0.0.1:1865")]
    pub sb: std::net::SocketAddr,
    /// An account, HANDLE:PASSWORD[:NAME]; repeatable. Every account lists every other.
    #[arg(long = "user", value_name = "HANDLE:PASSWORD[:NAME]")]
    pub users: Vec<String>,
    /// A file of accounts, one HANDLE:PASSWORD[:NAME] per line.
    #[arg(long, value_name = "FILE")]
    pub users_file: Option<PathBuf>,
    /// Break exactly one behaviour on purpose (see --list-faults), to try check-server.
    #[arg(long, value_name = "NAME")]
    pub fault: Option<String>,
    /// List the faults --fault takes, one a line, name first, and exit.
    #[arg(long)]
    pub list_faults: bool,
}

/// Flags of `msntap generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Output pcap file.
    pub out: PathBuf,
    /// About this many packets.
    #[arg(long, default_value_t = 1_000_000)]
    pub packets: u64,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Share of data segments reordered.
    #[arg(long, default_value_t = 0.01)]
    pub reorder: f64,
    /// Share of data segments retransmitted.
    #[arg(long, default_value_t = 0.01)]
    pub retransmit: f64,
    /// Instead: one session of N pipelined requests with ten-digit TrIDs (the hash benchmark).
    #[arg(long, value_name = "N")]
    pub trid_stress: Option<u32>,
    /// The step between the stress capture's TrIDs (65536: low 16 bits all zero).
    #[arg(long, default_value_t = 1, requires = "trid_stress")]
    pub trid_step: u32,
}

/// Flags of `msntap demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Messages each user sends.
    #[arg(long, default_value_t = 2)]
    pub rounds: usize,
    /// The dialect the clients speak: 2, 5, 7, 8, 11 or 13.
    #[arg(long, default_value_t = 2, value_parser = dialect_arg)]
    pub dialect: u8,
    /// Outputs.
    #[command(flatten)]
    pub out: LiveOutput,
}

/// The captures `read`, `ladder` and `report` take.
#[derive(Debug, Clone, clap::Args)]
pub struct Inputs {
    /// Capture files, or directories of them (.pcap, .pcapng, .cap).
    #[arg(required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Threads (default: one per core): files analysed at once, output in argument order; one
    /// file is analysed on N threads (but with --dump-streams; for --summary the reading
    /// thread is one of them), every output the same as on one (outside the flood bounds
    /// docs/performance.md lists).
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,
}

/// Flags of `msntap read`.
#[derive(Debug, clap::Args)]
pub struct ReadArgs {
    /// The captures.
    #[command(flatten)]
    pub inputs: Inputs,
    /// Outputs, filters and limits.
    #[command(flatten)]
    pub common: AnalysisArgs,
}

/// How a ladder is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LadderFormatArg {
    /// Text that fits --width.
    Text,
    /// A Mermaid sequenceDiagram.
    Mermaid,
}

/// Flags of the ladder shared by `ladder`, `proxy` and `demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct LadderFlags {
    /// Columns the text ladder fits in (default: the terminal's width, else 100).
    #[arg(long, value_name = "N")]
    pub width: Option<usize>,
    /// Text, or Mermaid for issue trackers and documents.
    #[arg(long, value_enum, default_value_t = LadderFormatArg::Text)]
    pub format: LadderFormatArg,
    /// The most lines drawn; the rest are counted and left out.
    #[arg(long, default_value_t = 5000, value_name = "N")]
    pub max_arrows: usize,
}

/// Flags of `msntap ladder`.
#[derive(Debug, clap::Args)]
pub struct LadderArgs {
    /// The captures.
    #[command(flatten)]
    pub inputs: Inputs,
    /// The ladder.
    #[command(flatten)]
    pub ladder: LadderFlags,
    /// Filters, limits and other outputs (as `read` takes them).
    #[command(flatten)]
    pub common: AnalysisArgs,
}

/// Flags of `msntap report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The captures.
    #[command(flatten)]
    pub inputs: Inputs,
    /// The report file; with several captures, a directory (each report named after its
    /// capture).
    #[arg(short = 'o', long = "output", value_name = "FILE.html|DIR", required = true)]
    pub output: PathBuf,
    /// Filters, limits and other outputs (as `read` takes them).
    #[command(flatten)]
    pub common: AnalysisArgs,
}

/// Flags of `msntap check-server`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The server, HOST:PORT: a dispatch server, or a notification server with none in front.
    #[arg(required_unless_present = "list")]
    pub target: Option<String>,
    /// An account, HANDLE:PASSWORD; repeat for the cases that need two users.
    #[arg(long = "user", value_name = "HANDLE:PASSWORD")]
    pub users: Vec<String>,
    /// Speak only MSNP<N> (2 to 18) and run only the cases that apply to it (default: each case
    /// offers every dialect it applies to and speaks the one the server picks).
    #[arg(long, value_name = "N")]
    pub dialect: Option<u8>,
    /// Run only the cases whose ids match (globs, comma-separated or repeated).
    #[arg(short = 's', long = "select", value_name = "CASE-GLOB", value_delimiter = ',')]
    pub select: Vec<String>,
    /// Write JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write the results as JSON to FILE (`-` for stdout, instead of the table).
    #[arg(long, value_name = "FILE")]
    pub json: Option<String>,
    /// A file of case ids (globs, one a line, `#` comments) expected to fail.
    #[arg(long, value_name = "FILE")]
    pub known_failures: Option<PathBuf>,
    /// A rule violation (error or warning) in the server's lines fails the case.
    #[arg(long)]
    pub strict: bool,
    /// Seconds each wait may take.
    #[arg(long, default_value_t = 5, value_name = "SECONDS")]
    pub timeout: u64,
    /// List the cases and exit.
    #[arg(long)]
    pub list: bool,
    /// With --list: the Markdown table of docs/check-server.md.
    #[arg(long, requires = "list")]
    pub markdown: bool,
}

/// Flags of `msntap sniff`.
#[derive(Debug, clap::Args)]
pub struct SniffArgs {
    /// The interface to capture on (see --list-interfaces).
    #[arg(short = 'i', long = "interface", value_name = "IFACE", required_unless_present = "list_interfaces")]
    pub interface: Option<String>,
    /// Capture filter (BPF syntax). The default sees switchboards on any port.
    #[arg(long, default_value = "tcp")]
    pub bpf: String,
    /// List the interfaces that can be captured on, and exit.
    #[arg(long)]
    pub list_interfaces: bool,
    /// Also save what was captured to a pcapng file.
    #[arg(long, value_name = "FILE.pcapng")]
    pub write: Option<PathBuf>,
    /// Stop after this many seconds (default: run until Ctrl-C or SIGTERM).
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<u64>,
    /// Outputs, filters and limits.
    #[command(flatten)]
    pub common: AnalysisArgs,
}

/// Outputs, filters and limits shared by `read` and `sniff`.
#[derive(Debug, Clone, clap::Args)]
pub struct AnalysisArgs {
    /// Write the annotated session document as JSON to FILE (`-` for stdout).
    #[arg(long, value_name = "FILE")]
    pub json: Option<String>,
    /// Colour the transcript.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Print a line per connection and overall counts (commands, outcomes, latency
    /// percentiles, violations by rule) instead of the transcript.
    #[arg(long)]
    pub summary: bool,
    /// Stream one JSON object per line to FILE (`-` for stdout) as things are decided.
    #[arg(long, value_name = "FILE")]
    pub ndjson: Option<String>,
    /// Show only these connections (ids, comma-separated or repeated).
    #[arg(long = "conn", value_name = "ID", value_delimiter = ',')]
    pub conns: Vec<u64>,
    /// Show only connections of these roles.
    #[arg(long = "role", value_enum, value_delimiter = ',', ignore_case = true)]
    pub roles: Vec<RoleArg>,
    /// Show one user's whole journey: the connections whose user is HANDLE.
    #[arg(long, value_name = "HANDLE")]
    pub user: Option<String>,
    /// Show only these commands (verbs or error codes, comma-separated or repeated).
    #[arg(long = "command", value_name = "VERBS", value_delimiter = ',')]
    pub commands: Vec<String>,
    /// Show only events that carry a violation.
    #[arg(long)]
    pub only_violations: bool,
    /// Show only events with a violation at least this severe.
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub min_severity: Option<SeverityArg>,
    /// Exit with status 3 when a violation of LEVEL or worse was found (all traffic counts,
    /// whatever the filters show).
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub fail_on: Option<SeverityArg>,
    /// Also treat this TCP port as MSNP (1863 always is); repeatable.
    #[arg(long = "port", value_name = "PORT")]
    pub ports: Vec<u16>,
    /// Verify MD5 logins of HANDLE with SECRET; repeatable.
    #[arg(long = "password", value_name = "HANDLE=SECRET")]
    pub passwords: Vec<String>,
    /// Show cookies and MD5 responses instead of <redacted>.
    #[arg(long)]
    pub reveal_secrets: bool,
    /// Longest command line accepted, in bytes.
    #[arg(long, default_value_t = 16 * 1024, value_name = "BYTES")]
    pub max_line: usize,
    /// Largest MSG length trusted, in bytes.
    #[arg(long, default_value_t = 1 << 20, value_name = "BYTES")]
    pub max_payload: u64,
    /// Payload bytes kept per event in the output.
    #[arg(long, default_value_t = 64 * 1024, value_name = "BYTES")]
    pub keep_payload: usize,
    /// Out-of-order bytes buffered per direction before a hole is declared a gap.
    #[arg(long, default_value_t = 1 << 20, value_name = "BYTES")]
    pub max_ooo: usize,
    /// Write each direction's reassembled bytes to a file in DIR (named by connection id,
    /// endpoints and direction).
    #[arg(long, value_name = "DIR")]
    pub dump_streams: Option<PathBuf>,
    /// Only decode flows on MSNP ports and announced addresses, not flows recognised by content.
    #[arg(long)]
    pub no_content_probe: bool,
    /// Seconds of capture time after which an idle connection is flushed.
    #[arg(long, default_value_t = 600, value_name = "SECONDS")]
    pub idle_timeout: u64,
}

/// A dialect the testkit speaks, by number.
fn dialect_arg(s: &str) -> Result<u8, String> {
    let n: u8 = s.trim_start_matches("MSNP").parse().map_err(|_| format!("{s:?} is not a dialect number"))?;
    msntap::testkit::flavor::Flavor::new(n).map(|f| f.number()).ok_or_else(|| {
        let spoken: Vec<String> = msntap::testkit::flavor::SPOKEN.iter().map(u8::to_string).collect();
        format!("the testkit speaks {}", spoken.join(", "))
    })
}
