//! Server roles: the three kinds of MSNP server a connection can talk to.

use serde::Serialize;

/// Server role of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Dispatch server.
    DS,
    /// Notification server.
    NS,
    /// Switchboard.
    SB,
    /// Not decided.
    Unknown,
}

impl Role {
    /// `DS`, `NS`, `SB` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::DS => "DS",
            Role::NS => "NS",
            Role::SB => "SB",
            Role::Unknown => "unknown",
        }
    }
}

impl Serialize for Role {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Server roles a command is valid on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    /// Dispatch server.
    pub ds: bool,
    /// Notification server.
    pub ns: bool,
    /// Switchboard.
    pub sb: bool,
}
