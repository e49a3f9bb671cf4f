//! The fuzz targets' properties (tests/harness/mod.rs) inside `cargo test`:
//! each target runs on deterministic pseudo-random inputs, and every input
//! a fuzzer ever failed on (tests/regressions/<target>/) is replayed.
//!
//! `FUZZ_CASES` sets the number of random inputs per target (default 3000);
//! `FUZZ_SEED` changes the seed. `npm run fuzz` runs the real fuzzer
//! (cargo-fuzz, coverage-guided) on the same properties.

mod harness;

use std::path::Path;

use harness::{ConnectionInput, NameSpec, Op, Prologue, RoleSpec, Segment};

#[global_allocator]
static ALLOCATOR: harness::alloc::Counting = harness::alloc::Counting;

/// xorshift64*: deterministic bytes without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// An input of 0 to `max` bytes, biased towards short ones and towards
    /// the bytes that matter here (type bytes, 0x20, 'A'..'P', 0xC0, 0xFF).
    fn input(&mut self, max: usize) -> Vec<u8> {
        let len = (self.next() as usize % (max + 1)) >> (self.next() % 4);
        (0..len)
            .map(|_| {
                let r = self.next();
                match r % 8 {
                    0 => [0x00, 0x81, 0x82, 0x83, 0x84, 0x85, 0x20, 0xC0][(r >> 8) as usize % 8],
                    1 => b'A' + (r >> 8) as u8 % 16,
                    2 => 0xFF,
                    _ => (r >> 8) as u8,
                }
            })
            .collect()
    }
}

/// Structured session inputs, weighted towards real conversations (valid
/// frames, handshakes, timers that fire) with hostile bytes mixed in: what
/// random bytes alone rarely reach.
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max as u64 + 1) as usize;
        (0..len).map(|_| self.next() as u8).collect()
    }

    fn name(&mut self) -> NameSpec {
        let labels = if self.below(4) == 0 {
            self.below(5) as usize
        } else {
            0
        };
        NameSpec {
            name: (0..self.below(17))
                .map(|_| b'A' + self.below(26) as u8)
                .collect(),
            suffix: self.next() as u8,
            scope: (0..labels)
                .map(|_| (0..1 + self.below(70)).map(|_| b'a').collect())
                .collect(),
        }
    }

    /// A segment: a message or keep-alive, or (`hostile`) anything.
    fn segment(&mut self, hostile: bool) -> Segment {
        match self.below(if hostile { 12 } else { 5 }) {
            0..=3 => Segment::Message {
                length: if self.below(8) == 0 {
                    self.next() as u16
                } else {
                    self.below(300) as u16
                },
                wide: self.below(16) == 0,
                encoding: if self.below(8) == 0 {
                    self.next() as u8
                } else {
                    0
                },
                fill: self.next() as u8,
            },
            4 => Segment::KeepAlive,
            5 => Segment::Positive {
                trailer: if self.below(3) == 0 {
                    self.below(600) as u16
                } else {
                    0
                },
            },
            6 => Segment::Negative(0x80 + self.below(16) as u8),
            7 => Segment::Retarget(
                self.next().to_be_bytes()[..4].try_into().unwrap(),
                self.next() as u16,
            ),
            8 => Segment::Request {
                called: self.name(),
                calling: self.name(),
                patches: (0..self.below(3))
                    .map(|_| (self.next() as u16, self.next() as u8))
                    .collect(),
                extra: if self.below(4) == 0 {
                    self.bytes(3)
                } else {
                    Vec::new()
                },
            },
            9 => Segment::Frame {
                frame_type: [0x00, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0xFF]
                    [self.below(8) as usize],
                flags: [0, 1, 0x80, 0xFF, self.next() as u8][self.below(5) as usize],
                length: [0, 1, 6, 68, 510, 511, 0xFFFF, self.next() as u16][self.below(8) as usize],
                trailer: self.bytes(80),
            },
            _ => Segment::Raw(self.bytes(12)),
        }
    }

    fn op(&mut self) -> Op {
        match self.below(20) {
            0..=8 => {
                let hostile = self.below(4) == 0;
                let segments: Vec<Segment> = (0..1 + self.below(6))
                    .map(|_| self.segment(hostile))
                    .collect();
                let cuts = (0..self.below(6)).map(|_| self.next() as u16).collect();
                Op::Feed { segments, cuts }
            }
            9 => Op::Start,
            10 => Op::Accept,
            11 => Op::Reject(0x80 + self.below(16) as u8),
            12 => Op::Retarget(
                self.next().to_be_bytes()[..4].try_into().unwrap(),
                self.next() as u16,
            ),
            13 => Op::Request(self.name(), self.name()),
            14 => Op::MessageHeader {
                length: if self.below(2) == 0 {
                    self.below(140_000) as u32
                } else {
                    self.next() as u32
                },
                beyond_u32: self.below(16) == 0,
            },
            15 => Op::SendMessage(self.next() as u16),
            16 => Op::SendKeepAlive,
            17 => Op::Advance(self.below(400) as u16),
            18 => Op::HandleTimeout,
            _ => {
                if self.below(3) == 0 {
                    Op::EndOfInput
                } else {
                    Op::Jump(self.next() >> self.below(64))
                }
            }
        }
    }

    fn connection_input(&mut self) -> ConnectionInput {
        let timer = |rng: &mut Self| (rng.below(2) == 0).then(|| rng.below(500) as u16);
        ConnectionInput {
            role: [RoleSpec::Caller, RoleSpec::Called, RoleSpec::Direct][self.below(3) as usize],
            prologue: [
                Prologue::Fresh,
                Prologue::AwaitingAnswer,
                Prologue::Established,
                Prologue::Established,
            ][self.below(4) as usize],
            legacy: self.below(4) == 0,
            max: self.next() as u32,
            request_timeout: timer(self),
            idle_timeout: timer(self),
            keep_alive: timer(self),
            ops: (0..1 + self.below(24)).map(|_| self.op()).collect(),
        }
    }
}

fn cases() -> usize {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}

fn seed(target: &str) -> u64 {
    let base: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x6e62_7373);
    target.bytes().fold(base | 1, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    }) | 1
}

/// Replays tests/regressions/<target>/*, then `cases()` random inputs.
fn run(target: &str, max_len: usize, check: fn(&[u8])) {
    assert!(
        harness::alloc::installed(),
        "the counting allocator is installed"
    );
    harness::stats::enable();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/regressions")
        .join(target);
    let mut replayed = 0;
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let mut files: Vec<_> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for file in files {
            if file
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                continue;
            }
            let bytes = std::fs::read(&file).unwrap();
            eprintln!("replaying {}", file.display());
            check(&bytes);
            replayed += 1;
        }
    }
    let mut rng = Rng(seed(target));
    for case in 0..cases() {
        let input = rng.input(max_len);
        if std::env::var_os("FUZZ_VERBOSE").is_some() {
            eprintln!("{target} case {case}: {input:02x?}");
        }
        check(&input);
    }
    eprintln!(
        "{target}: {replayed} regression inputs, {} random inputs",
        cases()
    );
    for (what, n) in harness::stats::take() {
        eprintln!("  {what}: {n}");
    }
}

#[test]
fn frame_properties() {
    run("frame", 4096, harness::check_frame);
}

#[test]
fn name_properties() {
    run("name", 600, harness::check_name);
}

#[test]
fn connection_properties() {
    run("connection", 8192, harness::check_connection);
}

#[test]
fn connection_conversations() {
    assert!(harness::alloc::installed());
    harness::stats::enable();
    let mut rng = Rng(seed("connection_conversations"));
    for case in 0..cases() {
        let input = rng.connection_input();
        if std::env::var_os("FUZZ_VERBOSE").is_some() {
            eprintln!("conversation {case}: {input:?}");
        }
        harness::run_connection(&input);
    }
    eprintln!("connection_conversations: {} structured inputs", cases());
    for (what, n) in harness::stats::take() {
        eprintln!("  {what}: {n}");
    }
}

#[test]
fn session_properties() {
    run("session", 2048, harness::session::check_session);
}

#[test]
fn call_plan_properties() {
    run("call_plan", 512, harness::check_call_plan);
}
