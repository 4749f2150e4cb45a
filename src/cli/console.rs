//! What a person or a batch log sees while a run goes: a progress bar on a terminal, and on
//! anything else (a redirected stderr, a Slurm log) a plain line every few seconds with the
//! share done, the rate and the time left. Library notices (log warnings) print as `notice:`.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use saddlescope::run::Observer;

/// Seconds between progress lines without a terminal: SADDLESCOPE_PROGRESS_SECONDS or 5.
fn line_interval() -> Duration {
    let s = std::env::var("SADDLESCOPE_PROGRESS_SECONDS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .unwrap_or(5.0);
    Duration::from_secs_f64(s)
}

/// Library log records: warnings are notices for the person running the command.
pub fn init_logging() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .format(|buf, record| match record.level() {
            log::Level::Warn => writeln!(buf, "notice: {}", record.args()),
            log::Level::Error => writeln!(buf, "error: {}", record.args()),
            l => writeln!(buf, "[{l} {}] {}", record.target(), record.args()),
        })
        .init();
}

struct Stage {
    name: String,
    total: u64,
    done: u64,
    started: Instant,
    last_line: Instant,
}

/// The observer of the command line.
pub struct Console {
    bar: Mutex<Option<ProgressBar>>,
    stage: Mutex<Option<Stage>>,
    terminal: bool,
    every: Duration,
}

impl Console {
    pub fn new() -> Console {
        Console {
            bar: Mutex::new(None),
            stage: Mutex::new(None),
            terminal: std::io::stderr().is_terminal(),
            every: line_interval(),
        }
    }
}

fn eta(seconds: f64) -> String {
    let s = seconds.round() as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s / 60 % 60),
    }
}

/// One progress line: share done, rate, elapsed and time left.
fn line(st: &Stage) -> String {
    let elapsed = st.started.elapsed().as_secs_f64();
    let share = st.done as f64 / st.total.max(1) as f64;
    let rate = st.done as f64 / elapsed.max(1e-9);
    let left = if st.done > 0 {
        eta(elapsed * (st.total.saturating_sub(st.done)) as f64 / st.done as f64)
    } else {
        "?".into()
    };
    format!(
        "{}: {:.1}% ({:.3e} of {:.3e} walker-steps, a stopped walker counting as done), {:.3e}/s, elapsed {}, eta {left}",
        st.name,
        100.0 * share.min(1.0),
        st.done as f64,
        st.total as f64,
        rate,
        eta(elapsed)
    )
}

impl Observer for Console {
    fn line(&self, text: &str) {
        match self.bar.lock().ok().and_then(|b| b.clone()) {
            Some(bar) => bar.suspend(|| eprintln!("{text}")),
            None => eprintln!("{text}"),
        }
    }
    fn start(&self, stage: &str, total: u64) {
        let now = Instant::now();
        if let Ok(mut s) = self.stage.lock() {
            *s = Some(Stage {
                name: stage.to_string(),
                total,
                done: 0,
                started: now,
                last_line: now,
            });
        }
        if self.terminal {
            let pb = ProgressBar::new(total.max(1));
            pb.set_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:40}] {percent:>3}% {elapsed_precise} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            pb.set_message(stage.to_string());
            if let Ok(mut b) = self.bar.lock() {
                *b = Some(pb);
            }
        }
    }
    fn progress(&self, done: u64) {
        if let Some(bar) = self.bar.lock().ok().and_then(|b| b.clone()) {
            bar.set_position(done);
        }
        if let Ok(mut s) = self.stage.lock() {
            if let Some(st) = s.as_mut() {
                st.done = done.max(st.done);
                if !self.terminal && st.last_line.elapsed() >= self.every {
                    st.last_line = Instant::now();
                    eprintln!("{}", line(st));
                }
            }
        }
    }
    fn finish(&self) {
        if let Some(bar) = self.bar.lock().ok().and_then(|mut b| b.take()) {
            bar.finish_and_clear();
        }
        if let Ok(mut s) = self.stage.lock() {
            if let Some(st) = s.take() {
                if !self.terminal {
                    eprintln!(
                        "{}: done in {}",
                        st.name,
                        eta(st.started.elapsed().as_secs_f64())
                    );
                }
            }
        }
    }
}
