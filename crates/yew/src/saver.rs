//! When [`use_persistent_state`](crate::use_persistent_state) writes: the save state
//! machine of one key, as plain Rust (no timers, no store, no browser), so each rule is
//! tested natively.
//!
//! The rules:
//! - **Debounce**: a change is written `debounce_ms` after the last one (at once with
//!   0); each change restarts the wait, and only the latest value is written.
//! - **One write in flight**: while a write runs, changes wait; its completion writes
//!   the latest of them.
//! - **Retry with backoff**: a failed write is tried again after [`FIRST_RETRY_MS`],
//!   then twice that, [`MAX_ATTEMPTS`] attempts in all; then the status is
//!   [`SaveStatus::Error`] and the change stays pending, for the next change or
//!   [`Saver::save_now`].
//! - **Refused values**: a value the validator refuses ([`Saver::refuse`]) is never
//!   written, and neither is the change pending before it.
//! - [`Saver::save_now`] writes at once, with a fresh set of attempts;
//!   [`Saver::discard_pending`] drops what waits; [`Saver::flush`] (page hidden, unmount)
//!   writes what waits without waiting for the debounce.
//!
//! The caller runs the machine: each method returns the [`Command`] to carry out (arm a
//! timer, write a value), and the caller reports back ([`Saver::timer_fired`],
//! [`Saver::write_succeeded`], [`Saver::write_failed`]).
//!
//! ```
//! use cairn_yew::saver::{Command, Saver};
//! use cairn_yew::SaveStatus;
//!
//! let mut saver = Saver::new(0);
//! assert_eq!(saver.change("v1"), Command::Write("v1"));
//! // A change while "v1" is being written waits for it.
//! assert_eq!(saver.change("v2"), Command::Disarm);
//! assert_eq!(saver.write_succeeded(1.0), Command::Write("v2"));
//! assert_eq!(saver.write_failed("disk full".into()), Command::Arm(250));
//! assert_eq!(saver.timer_fired(), Command::Write("v2"));
//! assert_eq!(saver.write_succeeded(2.0), Command::Nothing);
//! assert_eq!(saver.status(), &SaveStatus::Saved(2.0));
//! ```

/// Attempts per write before the status becomes [`SaveStatus::Error`].
///
/// ```
/// assert_eq!(cairn_yew::MAX_ATTEMPTS, 3);
/// ```
pub const MAX_ATTEMPTS: u32 = 3;

/// Wait before the first retry, in ms; doubled for each further one.
///
/// ```
/// assert_eq!(cairn_yew::FIRST_RETRY_MS, 250);
/// ```
pub const FIRST_RETRY_MS: u32 = 250;

/// Whether the latest value is safely stored.
///
/// ```
/// use cairn_yew::SaveStatus;
///
/// let label = |status: &SaveStatus| match status {
///     SaveStatus::Idle => "".to_owned(),
///     SaveStatus::Saving => "Saving…".to_owned(),
///     SaveStatus::Saved(_) => "Saved".to_owned(),
///     SaveStatus::Error(why) => format!("Not saved: {why}"),
/// };
/// assert_eq!(label(&SaveStatus::Saved(0.0)), "Saved");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum SaveStatus {
    /// Nothing written since the value was loaded.
    Idle,
    /// A write is running.
    Saving,
    /// Stored (committed to the local database, and queued for sync), at this time (ms
    /// since the epoch).
    Saved(f64),
    /// Not stored, and why: a storage failure after every retry, or a value the
    /// validator refused.
    Error(String),
}

/// What the caller of a [`Saver`] must do next.
///
/// ```
/// use cairn_yew::saver::{Command, Saver};
///
/// let mut saver = Saver::new(0);
/// assert_eq!(saver.change("v1"), Command::Write("v1"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Command<V> {
    /// Nothing; any armed timer may stay (it fires [`Saver::timer_fired`] harmlessly).
    Nothing,
    /// Arm the timer to call [`Saver::timer_fired`] after this many ms, replacing
    /// (cancelling) any armed one.
    Arm(u32),
    /// Cancel the armed timer, if any.
    Disarm,
    /// Cancel the armed timer and write this value; then call [`Saver::write_succeeded`]
    /// or [`Saver::write_failed`].
    Write(V),
}

/// The save state machine of one key (see the [module docs](self) for the rules). `V`
/// is the value written.
///
/// ```
/// use cairn_yew::saver::{Command, Saver};
/// use cairn_yew::SaveStatus;
///
/// let mut saver = Saver::new(1000);
/// assert_eq!(saver.change("draft"), Command::Arm(1000));
/// assert_eq!(saver.timer_fired(), Command::Write("draft"));
/// assert_eq!(saver.status(), &SaveStatus::Saving);
/// assert_eq!(saver.write_succeeded(5.0), Command::Nothing);
/// assert_eq!(saver.status(), &SaveStatus::Saved(5.0));
/// assert!(!saver.is_dirty());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Saver<V> {
    debounce_ms: u32,
    /// The latest change not yet handed to the writer.
    pending: Option<V>,
    /// The value being written, kept to retry it.
    in_flight: Option<V>,
    failed_attempts: u32,
    status: SaveStatus,
    dirty: bool,
    /// The latest value was refused: a write that succeeds meanwhile (of an earlier
    /// value) must not make it look saved.
    refused: bool,
    /// The write in flight was discarded: if it fails, it is not retried.
    in_flight_discarded: bool,
}

impl<V: Clone> Saver<V> {
    /// A saver with nothing pending, writing `debounce_ms` after the last change.
    ///
    /// ```
    /// let saver = cairn_yew::saver::Saver::<String>::new(600);
    /// assert!(!saver.has_unsaved());
    /// ```
    pub fn new(debounce_ms: u32) -> Self {
        Saver {
            debounce_ms,
            pending: None,
            in_flight: None,
            failed_attempts: 0,
            status: SaveStatus::Idle,
            dirty: false,
            refused: false,
            in_flight_discarded: false,
        }
    }

    /// Whether the latest value is stored.
    ///
    /// ```
    /// let saver = cairn_yew::saver::Saver::<u8>::new(0);
    /// assert_eq!(saver.status(), &cairn_yew::SaveStatus::Idle);
    /// ```
    pub fn status(&self) -> &SaveStatus {
        &self.status
    }

    /// True from a change until it is stored (or discarded).
    ///
    /// ```
    /// let mut saver = cairn_yew::saver::Saver::new(100);
    /// saver.change(1);
    /// assert!(saver.is_dirty());
    /// ```
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// A change waits to be written or is being written: a version from elsewhere
    /// arriving now will be replaced by it.
    ///
    /// ```
    /// let mut saver = cairn_yew::saver::Saver::new(0);
    /// saver.change(1);
    /// assert!(saver.has_unsaved());
    /// saver.write_succeeded(0.0);
    /// assert!(!saver.has_unsaved());
    /// ```
    pub fn has_unsaved(&self) -> bool {
        self.pending.is_some() || self.in_flight.is_some()
    }

    /// A new value to store: written after the debounce (or at once with a debounce of
    /// 0, unless a write is in flight), with a fresh set of attempts.
    ///
    /// ```
    /// use cairn_yew::saver::{Command, Saver};
    /// let mut saver = Saver::new(1000);
    /// assert_eq!(saver.change('a'), Command::Arm(1000));
    /// ```
    pub fn change(&mut self, value: V) -> Command<V> {
        self.pending = Some(value);
        self.dirty = true;
        self.refused = false;
        self.failed_attempts = 0;
        if self.debounce_ms == 0 {
            self.flush()
        } else {
            Command::Arm(self.debounce_ms)
        }
    }

    /// A new value that must not be stored (the validator refused it, or it could not
    /// be encoded), and why: nothing waiting is written; the status says why.
    ///
    /// ```
    /// use cairn_yew::saver::{Command, Saver};
    /// use cairn_yew::SaveStatus;
    /// let mut saver = Saver::new(1000);
    /// saver.change("ok");
    /// assert_eq!(saver.refuse("empty".into()), Command::Disarm);
    /// assert_eq!(saver.status(), &SaveStatus::Error("empty".into()));
    /// ```
    pub fn refuse(&mut self, reason: String) -> Command<V> {
        self.pending = None;
        self.dirty = true;
        self.refused = true;
        self.status = SaveStatus::Error(reason);
        Command::Disarm
    }

    /// The debounce or retry timer fired: write what waits.
    ///
    /// ```
    /// use cairn_yew::saver::{Command, Saver};
    /// let mut saver = Saver::new(10);
    /// saver.change(7);
    /// assert_eq!(saver.timer_fired(), Command::Write(7));
    /// ```
    pub fn timer_fired(&mut self) -> Command<V> {
        self.flush()
    }

    /// Writes what waits now instead of after the debounce (the page is hidden, the
    /// component unmounts). With a write in flight it waits for that write to end.
    ///
    /// ```
    /// use cairn_yew::saver::{Command, Saver};
    /// let mut saver = Saver::new(1000);
    /// saver.change("x");
    /// assert_eq!(saver.flush(), Command::Write("x"));
    /// assert_eq!(saver.flush(), Command::Disarm);
    /// ```
    pub fn flush(&mut self) -> Command<V> {
        if self.in_flight.is_some() {
            return Command::Disarm;
        }
        let Some(value) = self.pending.take() else {
            return Command::Disarm;
        };
        self.in_flight = Some(value.clone());
        self.status = SaveStatus::Saving;
        Command::Write(value)
    }

    /// Writes what waits now, with a fresh set of attempts (after a failure too).
    ///
    /// ```
    /// use cairn_yew::saver::{Command, Saver};
    /// let mut saver = Saver::new(1000);
    /// saver.change(1);
    /// assert_eq!(saver.save_now(), Command::Write(1));
    /// ```
    pub fn save_now(&mut self) -> Command<V> {
        self.failed_attempts = 0;
        self.flush()
    }

    /// Drops the change that waits (debounced, or kept after failed attempts), e.g.
    /// because the record is being deleted: nothing of it is written. A write already
    /// in flight still completes, but is not retried if it fails.
    ///
    /// ```
    /// use cairn_yew::saver::{Command, Saver};
    /// let mut saver = Saver::new(1000);
    /// saver.change(1);
    /// assert_eq!(saver.discard_pending(), Command::Disarm);
    /// assert!(!saver.is_dirty());
    /// assert_eq!(saver.flush(), Command::Disarm);
    /// ```
    pub fn discard_pending(&mut self) -> Command<V> {
        self.pending = None;
        self.dirty = false;
        self.in_flight_discarded = self.in_flight.is_some();
        Command::Disarm
    }

    /// The write in flight was committed, at `now_ms`: the next change that waited is
    /// written, or, with none, the status is [`SaveStatus::Saved`].
    ///
    /// ```
    /// use cairn_yew::saver::{Command, Saver};
    /// let mut saver = Saver::new(0);
    /// saver.change(1);
    /// assert_eq!(saver.write_succeeded(42.0), Command::Nothing);
    /// assert_eq!(saver.status(), &cairn_yew::SaveStatus::Saved(42.0));
    /// ```
    pub fn write_succeeded(&mut self, now_ms: f64) -> Command<V> {
        self.in_flight = None;
        self.in_flight_discarded = false;
        self.failed_attempts = 0;
        if self.pending.is_some() {
            return self.flush();
        }
        if self.refused {
            // What is shown is the refused value, which is not stored.
            return Command::Nothing;
        }
        self.status = SaveStatus::Saved(now_ms);
        self.dirty = false;
        Command::Nothing
    }

    /// The write in flight failed with `error`: the value waits again (unless a newer
    /// change waits) and is retried after a backoff, or, after [`MAX_ATTEMPTS`]
    /// attempts, kept with the status [`SaveStatus::Error`].
    ///
    /// ```
    /// use cairn_yew::saver::{Command, Saver};
    /// let mut saver = Saver::new(0);
    /// saver.change(1);
    /// assert_eq!(saver.write_failed("quota".into()), Command::Arm(250));
    /// ```
    pub fn write_failed(&mut self, error: String) -> Command<V> {
        let failed = self.in_flight.take();
        if std::mem::take(&mut self.in_flight_discarded) {
            // Discarded while it was written: nothing to retry, unless changed since.
            if self.pending.is_none() {
                if !self.refused {
                    self.status = SaveStatus::Idle;
                }
                return Command::Nothing;
            }
        } else if let Some(failed) = failed {
            self.pending.get_or_insert(failed);
        }
        self.failed_attempts += 1;
        if self.failed_attempts < MAX_ATTEMPTS {
            Command::Arm(FIRST_RETRY_MS << (self.failed_attempts - 1))
        } else {
            self.status = SaveStatus::Error(error);
            Command::Nothing
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_refused_while_an_earlier_one_is_written_does_not_look_saved() {
        let mut saver = Saver::new(0);
        assert_eq!(saver.change("ok"), Command::Write("ok"));
        assert_eq!(saver.refuse("too long".into()), Command::Disarm);
        // The earlier value's write lands; the value shown is still the refused one.
        assert_eq!(saver.write_succeeded(1.0), Command::Nothing);
        assert_eq!(saver.status(), &SaveStatus::Error("too long".into()));
        assert!(saver.is_dirty());
        // A valid change after it is saved as usual.
        assert_eq!(saver.change("fine"), Command::Write("fine"));
        assert_eq!(saver.write_succeeded(2.0), Command::Nothing);
        assert_eq!(saver.status(), &SaveStatus::Saved(2.0));
    }

    #[test]
    fn a_write_discarded_while_in_flight_is_not_retried_when_it_fails() {
        let mut saver = Saver::new(0);
        assert_eq!(saver.change("gone"), Command::Write("gone"));
        assert_eq!(saver.discard_pending(), Command::Disarm);
        assert_eq!(saver.write_failed("busy".into()), Command::Nothing);
        assert!(!saver.has_unsaved());
        assert_eq!(saver.timer_fired(), Command::Disarm);
        // A change made after the discard is still retried.
        assert_eq!(saver.change("new"), Command::Write("new"));
        assert_eq!(saver.discard_pending(), Command::Disarm);
        assert_eq!(saver.change("newer"), Command::Disarm);
        assert_eq!(
            saver.write_failed("busy".into()),
            Command::Arm(FIRST_RETRY_MS)
        );
        assert_eq!(saver.timer_fired(), Command::Write("newer"));
    }

    #[test]
    fn a_change_waits_for_the_debounce_and_only_the_latest_is_written() {
        let mut saver = Saver::new(1000);
        assert_eq!(saver.change("a"), Command::Arm(1000));
        assert_eq!(saver.status(), &SaveStatus::Idle);
        assert!(saver.is_dirty());
        // Each change restarts the wait.
        assert_eq!(saver.change("ab"), Command::Arm(1000));
        assert_eq!(saver.timer_fired(), Command::Write("ab"));
        assert_eq!(saver.status(), &SaveStatus::Saving);
        assert_eq!(saver.write_succeeded(9.0), Command::Nothing);
        assert_eq!(saver.status(), &SaveStatus::Saved(9.0));
        assert!(!saver.is_dirty());
        assert!(!saver.has_unsaved());
    }

    #[test]
    fn without_debounce_each_change_is_written_at_once() {
        let mut saver = Saver::new(0);
        assert_eq!(saver.change(1), Command::Write(1));
        assert_eq!(saver.status(), &SaveStatus::Saving);
    }

    #[test]
    fn one_write_in_flight_the_next_waits_for_it() {
        let mut saver = Saver::new(0);
        assert_eq!(saver.change(1), Command::Write(1));
        // Changes during the write are not written concurrently...
        assert_eq!(saver.change(2), Command::Disarm);
        assert_eq!(saver.change(3), Command::Disarm);
        assert_eq!(saver.flush(), Command::Disarm);
        assert_eq!(saver.timer_fired(), Command::Disarm);
        // ...but the latest of them right after it, and only then is it saved.
        assert_eq!(saver.write_succeeded(1.0), Command::Write(3));
        assert_eq!(saver.status(), &SaveStatus::Saving);
        assert!(saver.is_dirty());
        assert_eq!(saver.write_succeeded(2.0), Command::Nothing);
        assert_eq!(saver.status(), &SaveStatus::Saved(2.0));
    }

    #[test]
    fn a_debounced_change_during_a_write_waits_for_it_too() {
        let mut saver = Saver::new(500);
        saver.change("a");
        assert_eq!(saver.timer_fired(), Command::Write("a"));
        assert_eq!(saver.change("b"), Command::Arm(500));
        assert_eq!(saver.timer_fired(), Command::Disarm);
        assert_eq!(saver.write_succeeded(1.0), Command::Write("b"));
    }

    #[test]
    fn a_failed_write_is_retried_with_backoff_then_reported() {
        let mut saver = Saver::new(0);
        assert_eq!(saver.change("v"), Command::Write("v"));
        assert_eq!(
            saver.write_failed("busy".into()),
            Command::Arm(FIRST_RETRY_MS)
        );
        assert_eq!(saver.status(), &SaveStatus::Saving);
        assert_eq!(saver.timer_fired(), Command::Write("v"));
        assert_eq!(
            saver.write_failed("busy".into()),
            Command::Arm(FIRST_RETRY_MS * 2)
        );
        assert_eq!(saver.timer_fired(), Command::Write("v"));
        // The third failed attempt is the last.
        assert_eq!(saver.write_failed("quota".into()), Command::Nothing);
        assert_eq!(saver.status(), &SaveStatus::Error("quota".into()));
        assert!(saver.is_dirty());
        assert!(saver.has_unsaved(), "the change is kept, not lost");
    }

    #[test]
    fn after_the_last_attempt_save_now_or_a_new_change_tries_again_afresh() {
        let mut saver = Saver::new(0);
        saver.change("v");
        for _ in 1..MAX_ATTEMPTS {
            saver.write_failed("x".into());
            saver.timer_fired();
        }
        assert_eq!(saver.write_failed("x".into()), Command::Nothing);
        assert_eq!(saver.save_now(), Command::Write("v"));
        assert_eq!(saver.write_failed("x".into()), Command::Arm(FIRST_RETRY_MS));

        let mut saver = Saver::new(0);
        saver.change("v");
        for _ in 1..MAX_ATTEMPTS {
            saver.write_failed("x".into());
            saver.timer_fired();
        }
        saver.write_failed("x".into());
        assert_eq!(saver.change("w"), Command::Write("w"));
        assert_eq!(saver.write_failed("x".into()), Command::Arm(FIRST_RETRY_MS));
    }

    #[test]
    fn a_failed_write_does_not_replace_a_newer_change() {
        let mut saver = Saver::new(1000);
        saver.change("old");
        assert_eq!(saver.flush(), Command::Write("old"));
        saver.change("new");
        saver.write_failed("x".into());
        assert_eq!(saver.timer_fired(), Command::Write("new"));
    }

    #[test]
    fn a_refused_value_writes_nothing_and_says_why() {
        let mut saver = Saver::new(1000);
        saver.change("fine");
        assert_eq!(saver.refuse("Type your name.".into()), Command::Disarm);
        assert_eq!(saver.status(), &SaveStatus::Error("Type your name.".into()));
        assert!(saver.is_dirty());
        assert!(!saver.has_unsaved());
        assert_eq!(saver.timer_fired(), Command::Disarm);
        // The next accepted value is written as usual.
        assert_eq!(saver.change("Ada"), Command::Arm(1000));
        assert_eq!(saver.timer_fired(), Command::Write("Ada"));
    }

    #[test]
    fn save_now_skips_the_debounce() {
        let mut saver = Saver::new(1000);
        saver.change(5);
        assert_eq!(saver.save_now(), Command::Write(5));
        assert_eq!(saver.save_now(), Command::Disarm, "nothing left to write");
    }

    #[test]
    fn discard_pending_drops_what_waits_but_not_the_write_in_flight() {
        let mut saver = Saver::new(1000);
        saver.change(1);
        assert_eq!(saver.discard_pending(), Command::Disarm);
        assert!(!saver.is_dirty());
        assert!(!saver.has_unsaved());
        assert_eq!(saver.timer_fired(), Command::Disarm);

        saver.change(2);
        assert_eq!(saver.flush(), Command::Write(2));
        saver.change(3);
        saver.discard_pending();
        assert!(saver.has_unsaved(), "the write in flight still runs");
        assert_eq!(saver.write_succeeded(1.0), Command::Nothing);
        assert_eq!(saver.status(), &SaveStatus::Saved(1.0));
    }

    #[test]
    fn flush_writes_a_debounced_change_at_once() {
        // What unmounting and hiding the page do.
        let mut saver = Saver::new(60_000);
        saver.change("typed");
        assert_eq!(saver.flush(), Command::Write("typed"));
        assert_eq!(saver.flush(), Command::Disarm);
    }
}
