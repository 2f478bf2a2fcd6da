//! The progress line: trials done out of total, requests sent and time
//! elapsed, redrawn in place on stderr. Only when stderr is a terminal
//! (the caller decides); otherwise nothing is drawn at all.

use std::io::Write as _;
use std::time::{Duration, Instant};

use crate::outcome::event::Event;

/// Fewest time between two redraws.
const REDRAW: Duration = Duration::from_millis(100);

/// One line on stderr, redrawn in place.
#[derive(Debug)]
pub struct ProgressLine {
    started: Instant,
    total: usize,
    done: usize,
    requests: u64,
    drawn: bool,
    last_drawn: Option<Instant>,
    finished: bool,
}

impl Default for ProgressLine {
    fn default() -> Self {
        ProgressLine::new()
    }
}

impl ProgressLine {
    /// A progress line, not drawn yet.
    pub fn new() -> ProgressLine {
        ProgressLine {
            started: Instant::now(),
            total: 0,
            done: 0,
            requests: 0,
            drawn: false,
            last_drawn: None,
            finished: false,
        }
    }

    /// The line's text, e.g. `[12/133 trials · 480 requests · 1.4 s]`.
    pub fn text(&self) -> String {
        format!(
            "[{}/{} trials · {} requests · {:.1} s]",
            self.done,
            self.total,
            self.requests,
            self.started.elapsed().as_secs_f64()
        )
    }

    /// Whether reporters may print something for `event` (the line is cleared first).
    pub fn prints(event: &Event) -> bool {
        !matches!(
            event,
            Event::TrialStarted { .. }
                | Event::StepSent { .. }
                | Event::StepAnswered { .. }
                | Event::Verdict { .. }
                | Event::Heartbeat { .. }
        )
    }

    /// Takes one event and redraws: at once after something else printed
    /// (`cleared`), otherwise at most every [`REDRAW`].
    pub fn event(&mut self, event: &Event, cleared: bool) {
        match event {
            Event::RunStarted(run) => {
                self.started = Instant::now();
                self.total = run.trials.len();
            }
            Event::TrialFinished(_) => self.done += 1,
            Event::Heartbeat { requests_sent } => self.requests = *requests_sent,
            Event::TrialsFinished { .. } | Event::RunFinished(_) => {
                self.finished = true;
                return;
            }
            _ => {}
        }
        if self.finished || self.total == 0 {
            return;
        }
        let due = cleared
            || self
                .last_drawn
                .is_none_or(|at| at.elapsed() >= REDRAW || self.done == self.total);
        if due {
            self.draw();
        }
    }

    fn draw(&mut self) {
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "\r\x1b[2K{}", self.text());
        let _ = stderr.flush();
        self.drawn = true;
        self.last_drawn = Some(Instant::now());
    }

    /// Erases the line (before anything else is printed).
    pub fn clear(&mut self) {
        if self.drawn {
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "\r\x1b[2K");
            let _ = stderr.flush();
            self.drawn = false;
        }
    }
}
