//! Returning a request's own log lines in the response's `log` field.
//!
//! The director appends a response's `log` to the task's CPI log (`bosh task N --cpi`), which is
//! the only place an operator sees what the daemon did for their call. Each request runs inside
//! a [`REQUEST_SPAN`] span; [`RequestLogLayer`] copies every event inside such a span into a
//! buffer stored in that span's extensions, and [`CapturedLog::attach`] hands the request
//! handler a reference to that buffer. Spans of concurrent requests are distinct, so their lines
//! never mix.

use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex, PoisonError};

use tracing::field::{Field, Visit};
use tracing::{Event, Span, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::{LookupSpan, Registry};

/// The name of the span that marks one CPI request.
pub const REQUEST_SPAN: &str = "cpi_request";

/// The largest `log` a response carries; the daemon log keeps everything.
pub const MAX_CAPTURED_BYTES: usize = 64 * 1024;

#[derive(Debug, Default)]
struct Buffer {
    /// Written after the level on every line, e.g. `request_id=cpi-123456 method=info: `, so
    /// that lines in the task log can be matched with the daemon log.
    prefix: String,
    text: String,
    dropped_bytes: usize,
}

/// A handle to the log lines captured for one request.
#[derive(Debug, Clone, Default)]
pub struct CapturedLog(Arc<Mutex<Buffer>>);

impl CapturedLog {
    /// Creates a buffer and attaches it to `span`, which must be a request span. Without a
    /// `Registry`-based subscriber (for instance in a program that installed none) nothing is
    /// captured and the log stays empty.
    pub fn attach(span: &Span, prefix: String) -> CapturedLog {
        let captured = CapturedLog(Arc::new(Mutex::new(Buffer {
            prefix,
            ..Buffer::default()
        })));
        span.with_subscriber(|(id, dispatch)| {
            if let Some(registry) = dispatch.downcast_ref::<Registry>()
                && let Some(span) = registry.span(id)
            {
                span.extensions_mut().insert(captured.clone());
            }
        });
        captured
    }

    fn prefix(&self) -> String {
        let buffer = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        buffer.prefix.clone()
    }

    fn append(&self, line: &str) {
        let mut buffer = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if buffer.dropped_bytes == 0 && buffer.text.len() + line.len() <= MAX_CAPTURED_BYTES {
            buffer.text.push_str(line);
        } else {
            // Once a line is dropped, later lines are dropped too, so the log never has holes.
            buffer.dropped_bytes += line.len();
        }
    }

    /// The captured text, with a note when the size cap dropped lines.
    pub fn contents(&self) -> String {
        let buffer = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let mut text = buffer.text.clone();
        if buffer.dropped_bytes > 0 {
            let _ = writeln!(
                text,
                "[log truncated: {} more bytes are in the daemon log]",
                buffer.dropped_bytes
            );
        }
        text
    }
}

/// The tracing layer that feeds [`CapturedLog`] buffers.
#[derive(Debug, Default, Clone, Copy)]
pub struct RequestLogLayer;

impl<S> Layer<S> for RequestLogLayer
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
{
    fn on_event(&self, event: &Event<'_>, context: Context<'_, S>) {
        let Some(scope) = context.event_scope(event) else {
            return;
        };
        let Some(captured) = scope
            .into_iter()
            .find_map(|span| span.extensions().get::<CapturedLog>().cloned())
        else {
            return;
        };
        let mut line = String::new();
        let timestamp = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let _ = write!(
            line,
            "{timestamp} {:>5} {}",
            event.metadata().level(),
            captured.prefix()
        );
        let mut visitor = LineWriter {
            line: &mut line,
            message: None,
        };
        event.record(&mut visitor);
        if let Some(message) = visitor.message.take() {
            line.push_str(&message);
        }
        line.push('\n');
        captured.append(&line);
    }
}

/// Writes `key=value` fields, keeping the message to put last like the daemon's own format.
struct LineWriter<'a> {
    line: &'a mut String,
    message: Option<String>,
}

impl Visit for LineWriter<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = Some(format!("{value:?}"));
        } else {
            let _ = write!(self.line, "{}={value:?} ", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = Some(value.to_owned());
        } else {
            let _ = write!(self.line, "{}={value} ", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn captures_events_of_the_request_span_and_its_children_only() {
        let subscriber = Registry::default().with(RequestLogLayer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("Outside any request.");
            let first = tracing::info_span!(REQUEST_SPAN, request_id = "cpi-111111");
            let second = tracing::info_span!(REQUEST_SPAN, request_id = "cpi-222222");
            let first_log = CapturedLog::attach(&first, "request_id=cpi-111111: ".into());
            let second_log = CapturedLog::attach(&second, "request_id=cpi-222222: ".into());
            first.in_scope(|| {
                tracing::info!(vm_cid = "vm-1", "First request.");
                tracing::info_span!("child").in_scope(|| tracing::warn!("Nested in first."));
            });
            second.in_scope(|| tracing::info!("Second request."));
            let first_text = first_log.contents();
            let second_text = second_log.contents();
            assert!(
                first_text.contains(" INFO request_id=cpi-111111: vm_cid=vm-1 First request.\n"),
                "{first_text}"
            );
            assert!(
                first_text.contains(" WARN request_id=cpi-111111: Nested in first.\n"),
                "{first_text}"
            );
            assert!(!first_text.contains("Second"), "{first_text}");
            assert!(!first_text.contains("cpi-222222"), "{first_text}");
            assert!(!first_text.contains("Outside"), "{first_text}");
            assert_eq!(second_text.lines().count(), 1, "{second_text}");
            assert!(second_text.contains("Second request."));
        });
    }

    #[test]
    fn caps_the_size_and_says_so() {
        let subscriber = Registry::default().with(RequestLogLayer);
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(REQUEST_SPAN);
            let log = CapturedLog::attach(&span, String::new());
            let chunk = "x".repeat(1000);
            span.in_scope(|| {
                for _ in 0..100 {
                    tracing::info!("{chunk}");
                }
            });
            let text = log.contents();
            assert!(text.len() <= MAX_CAPTURED_BYTES + 100, "{}", text.len());
            assert!(
                text.contains("[log truncated: "),
                "{}",
                &text[text.len() - 100..]
            );
        });
    }

    #[test]
    fn without_a_registry_nothing_is_captured() {
        let span = tracing::info_span!(REQUEST_SPAN);
        let log = CapturedLog::attach(&span, String::new());
        span.in_scope(|| tracing::info!("Lost."));
        assert_eq!(log.contents(), "");
    }
}
