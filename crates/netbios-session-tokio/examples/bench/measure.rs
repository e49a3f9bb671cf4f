//! One measurement: both sides on threads of their own, a warm-up, a
//! window, every wait bounded.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::peers::{drive, serve, Kind};
use crate::{BoxError, HOST, TIMEOUT};

const WARMUP: Duration = Duration::from_millis(300);
const WINDOW: Duration = Duration::from_secs(1);
/// Linux's USER_HZ: the unit of utime and stime in /proc/self/stat.
const CLOCK_TICKS: f64 = 100.0;

/// Events (messages, round trips, setups) per second, and the process's
/// CPU seconds per event.
#[derive(Clone, Copy)]
pub struct Sample {
    pub rate: f64,
    pub cpu: f64,
}

/// Measures ours or the baseline once, on a fresh listener.
pub fn measure(kind: Kind, ours: bool) -> Result<Sample, String> {
    let started = Instant::now();
    let listener = std::net::TcpListener::bind((HOST, 0)).map_err(|error| error.to_string())?;
    listener
        .set_nonblocking(true)
        .map_err(|error| error.to_string())?;
    let port = listener
        .local_addr()
        .map_err(|error| error.to_string())?
        .port();
    let count = Arc::new(AtomicU64::new(0));
    let (stop, stopped) = watch::channel(false);
    let counted = Arc::clone(&count);
    let server = spawn_side("server", stopped.clone(), move || async move {
        serve(kind, ours, TcpListener::from_std(listener)?, counted).await
    });
    let counted = Arc::clone(&count);
    let client = spawn_side("client", stopped, move || drive(kind, ours, port, counted));
    let mut run = Run {
        sides: vec![server, client],
        deadline: started + TIMEOUT,
    };
    run.wait(None, || count.load(Relaxed) > 0, "first message")?;
    run.wait(Some(WARMUP), || false, "end of the warm-up")?;
    let (count0, time0, cpu0) = (count.load(Relaxed), Instant::now(), cpu_seconds());
    run.wait(Some(WINDOW), || false, "end of the window")?;
    let (count1, time1, cpu1) = (count.load(Relaxed), Instant::now(), cpu_seconds());
    let _ = stop.send(true);
    let sides = std::mem::take(&mut run.sides);
    run.wait(None, || sides.iter().all(JoinHandle::is_finished), "stop")?;
    for side in sides {
        side.join().map_err(|_| "a side panicked")??;
    }
    let events = count1 - count0;
    if events == 0 {
        return Err("nothing counted in the window".into());
    }
    Ok(Sample {
        rate: events as f64 / (time1 - time0).as_secs_f64(),
        cpu: (cpu1 - cpu0) / events as f64,
    })
}

/// Runs `side` on a thread of its own, in a current-thread runtime, until
/// `stop` says so. Errors after the stop are the teardown's, not failures.
fn spawn_side<F, Fut>(
    name: &'static str,
    stop: watch::Receiver<bool>,
    side: F,
) -> JoinHandle<Result<(), String>>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), BoxError>>,
{
    let run = move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| error.to_string())?;
        let mut stopped = stop.clone();
        let result = runtime.block_on(async move {
            tokio::select! {
                biased;
                _ = stopped.wait_for(|stop| *stop) => Ok(()),
                result = side() => result,
            }
        });
        match result {
            Err(error) if !*stop.borrow() => Err(format!("{name}: {error}")),
            _ => Ok(()),
        }
    };
    let thread = std::thread::Builder::new().name(name.into());
    thread.spawn(run).expect("a thread for a side")
}

/// Both sides of one measurement, and when it counts as stuck.
struct Run {
    sides: Vec<JoinHandle<Result<(), String>>>,
    deadline: Instant,
}

impl Run {
    /// Waits `period` (`None`: until `done()`), failing when a side ends
    /// (they run until stopped) or the measurement's deadline passes.
    fn wait(
        &mut self,
        period: Option<Duration>,
        done: impl Fn() -> bool,
        what: &str,
    ) -> Result<(), String> {
        let until = period.map(|period| Instant::now() + period);
        while !done() && until.is_none_or(|until| Instant::now() < until) {
            if let Some(side) = self.sides.iter().position(JoinHandle::is_finished) {
                return Err(match self.sides.remove(side).join() {
                    Ok(Err(error)) => error,
                    Ok(Ok(())) => "a side ended early".into(),
                    Err(_) => "a side panicked".into(),
                });
            }
            if Instant::now() >= self.deadline {
                return Err(format!("no {what} within {} s", TIMEOUT.as_secs()));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(())
    }
}

/// User + system CPU time of the whole process so far (0 without /proc).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // After the command name in parentheses: state (field 3) ... utime (14), stime (15).
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    (ticks(11).unwrap_or(0.0) + ticks(12).unwrap_or(0.0)) / CLOCK_TICKS
}
