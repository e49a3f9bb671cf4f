//! nbss: the command-line tool over netbios-session-tokio.

fn main() {}
