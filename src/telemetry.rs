//! Telemetry: one process-wide [`metrics`] recorder, installed once, feeding two sinks.
//!
//! - A Prometheus recorder (`metrics-exporter-prometheus`, rendered by `sys/metrics?format=prometheus` when the
//!   configuration has a `telemetry` block): cumulative counters, gauges and summaries (quantiles 0.5, 0.9, 0.99).
//! - An in-memory sink shaped like OpenBao's (go-metrics `InmemSink`, 10-second intervals kept for a minute), for the
//!   JSON form of `sys/metrics`: the last *finished* interval's counters and samples (count, rate per second, sum,
//!   min, max, mean, standard deviation), and every gauge's latest value.
//!
//! Names and units follow OpenBao: dotted names (`vault.core.handle_request`), timings in milliseconds. The recorder
//! is global (a `metrics` rule), so several servers in one process (in-process tests) share it; each server's own
//! state (sealed or not, its counters) is set as gauges when a scrape asks for it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use metrics::{Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, SharedString, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use serde::Serialize;
use serde_json::{json, Value};

/// The configuration's `telemetry` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetryConfig {
    /// The configuration has a `telemetry` block (dev mode has OpenBao's): `sys/config/state/sanitized` shows it.
    pub configured: bool,
    /// How long an idle Prometheus series is kept; `None`: Prometheus is not enabled (no `telemetry` block).
    pub prometheus_retention: Option<Duration>,
    /// Accepted for OpenBao compatibility: names never carry the host name here (OpenBao 2.7.2 shows none either).
    pub disable_hostname: bool,
    /// How often the usage gauges (mount table sizes, lease counts) are refreshed; `None`: never (`"none"`).
    pub usage_gauge_period: Option<Duration>,
    /// `lease_metrics_epsilon`: the width of `vault.expire.leases.by_expiration`'s buckets.
    pub lease_metrics_epsilon: Duration,
    /// `num_lease_metrics_buckets`: how many buckets ahead `vault.expire.leases.by_expiration` looks.
    pub num_lease_metrics_buckets: u64,
    /// `add_lease_metrics_namespace_labels`: a `namespace` label on `vault.expire.leases.by_expiration`.
    pub add_lease_metrics_namespace_labels: bool,
}

/// OpenBao's defaults when a `telemetry` block leaves a key out.
pub const DEFAULT_PROMETHEUS_RETENTION: Duration = Duration::from_secs(24 * 3600);
pub const DEFAULT_USAGE_GAUGE_PERIOD: Duration = Duration::from_secs(600);
pub const DEFAULT_LEASE_METRICS_EPSILON: Duration = Duration::from_secs(3600);
pub const DEFAULT_NUM_LEASE_METRICS_BUCKETS: u64 = 168;

impl Default for TelemetryConfig {
    /// No `telemetry` block: Prometheus off, usage gauges every 10 minutes.
    fn default() -> Self {
        TelemetryConfig {
            configured: false,
            prometheus_retention: None,
            disable_hostname: false,
            usage_gauge_period: Some(DEFAULT_USAGE_GAUGE_PERIOD),
            lease_metrics_epsilon: DEFAULT_LEASE_METRICS_EPSILON,
            num_lease_metrics_buckets: DEFAULT_NUM_LEASE_METRICS_BUCKETS,
            add_lease_metrics_namespace_labels: false,
        }
    }
}

/// go-metrics' in-memory interval and how many are kept.
const INTERVAL_SECS: u64 = 10;
const RETAINED_INTERVALS: usize = 6;

type Labels = Vec<(String, String)>;
type SeriesKey = (String, Labels);

/// go-metrics' `AggregateSample`.
#[derive(Debug, Clone, Copy)]
struct Aggregate {
    count: u64,
    sum: f64,
    sum_sq: f64,
    min: f64,
    max: f64,
}

impl Aggregate {
    fn new() -> Self {
        Aggregate {
            count: 0,
            sum: 0.0,
            sum_sq: 0.0,
            min: 0.0,
            max: 0.0,
        }
    }

    fn ingest(&mut self, v: f64) {
        if self.count == 0 || v < self.min {
            self.min = v;
        }
        if self.count == 0 || v > self.max {
            self.max = v;
        }
        self.count += 1;
        self.sum += v;
        self.sum_sq += v * v;
    }

    fn stddev(&self) -> f64 {
        let n = self.count as f64;
        let div = n * (n - 1.0);
        if div <= 0.0 {
            return 0.0;
        }
        ((n * self.sum_sq - self.sum * self.sum) / div).max(0.0).sqrt()
    }

    fn summary(self, key: &SeriesKey) -> SampleJson<'_> {
        let mean = if self.count == 0 {
            0.0
        } else {
            self.sum / self.count as f64
        };
        SampleJson {
            name: &key.0,
            count: self.count,
            rate: number(self.sum / INTERVAL_SECS as f64),
            sum: number(self.sum),
            min: number(self.min),
            max: number(self.max),
            mean: number(mean),
            stddev: number(self.stddev()),
            labels: labels_json(&key.1),
        }
    }
}

/// go-metrics' `SampledValue` as its JSON encoder writes it: fields in the Go struct's order (a `json!` object would
/// sort them), labels as a Go map (sorted by key).
#[derive(Serialize)]
struct SampleJson<'a> {
    #[serde(rename = "Name")]
    name: &'a str,
    #[serde(rename = "Count")]
    count: u64,
    #[serde(rename = "Rate")]
    rate: Value,
    #[serde(rename = "Sum")]
    sum: Value,
    #[serde(rename = "Min")]
    min: Value,
    #[serde(rename = "Max")]
    max: Value,
    #[serde(rename = "Mean")]
    mean: Value,
    #[serde(rename = "Stddev")]
    stddev: Value,
    #[serde(rename = "Labels")]
    labels: Value,
}

/// go-metrics' `GaugeValue` as JSON.
#[derive(Serialize)]
struct GaugeJson<'a> {
    #[serde(rename = "Name")]
    name: &'a str,
    #[serde(rename = "Value")]
    value: Value,
    #[serde(rename = "Labels")]
    labels: Value,
}

/// go-metrics' `MetricsSummary`: `Timestamp`, `Gauges`, `Points`, `Counters`, `Samples`, in that order.
#[derive(Serialize)]
struct SummaryJson<'a> {
    #[serde(rename = "Timestamp")]
    timestamp: String,
    #[serde(rename = "Gauges")]
    gauges: Vec<GaugeJson<'a>>,
    /// go-metrics' `EmitKey` points: nothing here emits any (OpenBao neither), an empty list as OpenBao shows.
    #[serde(rename = "Points")]
    points: [(); 0],
    #[serde(rename = "Counters")]
    counters: Vec<SampleJson<'a>>,
    #[serde(rename = "Samples")]
    samples: Vec<SampleJson<'a>>,
}

/// A float as Go's encoder writes it: whole numbers without a fraction.
pub(crate) fn number(v: f64) -> Value {
    if !v.is_finite() {
        return json!(0);
    }
    if v.fract() == 0.0 && v.abs() < 1e15 {
        json!(v as i64)
    } else {
        json!(v)
    }
}

fn labels_json(labels: &Labels) -> Value {
    Value::Object(labels.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
}

struct Interval {
    /// Unix seconds, a multiple of [`INTERVAL_SECS`].
    start: u64,
    counters: HashMap<Arc<SeriesKey>, Aggregate>,
    samples: HashMap<Arc<SeriesKey>, Aggregate>,
}

#[derive(Default)]
struct InmemState {
    intervals: VecDeque<Interval>,
    gauges: HashMap<Arc<SeriesKey>, f64>,
    /// Counters set to an absolute total (durable counters): shown as their total.
    totals: HashMap<Arc<SeriesKey>, u64>,
}

impl InmemState {
    fn current(&mut self) -> &mut Interval {
        let start = unix_secs() / INTERVAL_SECS * INTERVAL_SECS;
        if self.intervals.back().is_none_or(|i| i.start != start) {
            self.intervals.push_back(Interval {
                start,
                counters: HashMap::new(),
                samples: HashMap::new(),
            });
            while self.intervals.len() > RETAINED_INTERVALS {
                self.intervals.pop_front();
            }
        }
        // Just pushed if it was missing.
        let last = self.intervals.len() - 1;
        &mut self.intervals[last]
    }
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The in-memory sink behind the JSON form of `sys/metrics`.
#[derive(Default)]
pub struct Inmem {
    state: Mutex<InmemState>,
}

impl Inmem {
    fn with_state(&self, f: impl FnOnce(&mut InmemState)) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut state);
    }

    /// OpenBao's JSON summary of the last finished interval (the current one while it is the only one), as the
    /// bytes its encoder writes.
    pub fn display(&self) -> Vec<u8> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let n = state.intervals.len();
        let shown = match n {
            0 => None,
            1 => state.intervals.front(),
            _ => state.intervals.get(n - 2),
        };
        let start = shown
            .map(|i| i.start)
            .unwrap_or_else(|| unix_secs() / INTERVAL_SECS * INTERVAL_SECS);
        let timestamp = chrono::DateTime::from_timestamp(start as i64, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string())
            .unwrap_or_default();
        let mut gauges: Vec<(&SeriesKey, f64)> = state.gauges.iter().map(|(k, v)| (&**k, *v)).collect();
        gauges.sort_by(|a, b| a.0.cmp(b.0));
        let gauges: Vec<GaugeJson> = gauges
            .into_iter()
            .map(|(k, v)| GaugeJson {
                name: &k.0,
                value: number(v),
                labels: labels_json(&k.1),
            })
            .collect();
        let mut counters: Vec<(&SeriesKey, Aggregate)> = shown
            .map(|i| i.counters.iter().map(|(k, v)| (&**k, *v)).collect())
            .unwrap_or_default();
        counters.sort_by(|a, b| a.0.cmp(b.0));
        let mut counters: Vec<SampleJson> = counters.into_iter().map(|(k, a)| a.summary(k)).collect();
        // Durable totals: the whole count since the data directory was created (no rate: it is not per interval).
        let mut totals: Vec<(&SeriesKey, u64)> = state.totals.iter().map(|(k, v)| (&**k, *v)).collect();
        totals.sort_by(|a, b| a.0.cmp(b.0));
        for (k, total) in totals {
            let one = json!(if total > 0 { 1 } else { 0 });
            counters.push(SampleJson {
                name: &k.0,
                count: total,
                rate: json!(0),
                sum: json!(total),
                min: one.clone(),
                max: one.clone(),
                mean: one,
                stddev: json!(0),
                labels: labels_json(&k.1),
            });
        }
        let mut samples: Vec<(&SeriesKey, Aggregate)> = shown
            .map(|i| i.samples.iter().map(|(k, v)| (&**k, *v)).collect())
            .unwrap_or_default();
        samples.sort_by(|a, b| a.0.cmp(b.0));
        let summary = SummaryJson {
            timestamp,
            gauges,
            points: [],
            counters,
            samples: samples.into_iter().map(|(k, a)| a.summary(k)).collect(),
        };
        // Plain strings, numbers and maps: serializing cannot fail.
        serde_json::to_vec(&summary).unwrap_or_default()
    }
}

fn series_key(key: &Key) -> Arc<SeriesKey> {
    let mut labels: Labels = key
        .labels()
        .map(|l| (l.key().to_string(), l.value().to_string()))
        .collect();
    labels.sort();
    Arc::new((key.name().to_string(), labels))
}

/// One series' handle: the Prometheus recorder's and the in-memory sink's.
struct Handle {
    key: Arc<SeriesKey>,
    inmem: Arc<Inmem>,
    counter: Option<Counter>,
    gauge: Option<Gauge>,
    histogram: Option<Histogram>,
}

impl CounterFn for Handle {
    fn increment(&self, value: u64) {
        if let Some(c) = &self.counter {
            c.increment(value);
        }
        self.inmem.with_state(|s| {
            let interval = s.current();
            match interval.counters.get_mut(&*self.key) {
                Some(agg) => agg.ingest(value as f64),
                None => {
                    let mut agg = Aggregate::new();
                    agg.ingest(value as f64);
                    interval.counters.insert(self.key.clone(), agg);
                }
            }
        });
    }

    fn absolute(&self, value: u64) {
        if let Some(c) = &self.counter {
            c.absolute(value);
        }
        self.inmem.with_state(|s| {
            s.totals.insert(self.key.clone(), value);
        });
    }
}

impl GaugeFn for Handle {
    fn increment(&self, value: f64) {
        if let Some(g) = &self.gauge {
            g.increment(value);
        }
        self.inmem
            .with_state(|s| *s.gauges.entry(self.key.clone()).or_insert(0.0) += value);
    }

    fn decrement(&self, value: f64) {
        GaugeFn::increment(self, -value);
    }

    fn set(&self, value: f64) {
        if let Some(g) = &self.gauge {
            g.set(value);
        }
        self.inmem.with_state(|s| {
            s.gauges.insert(self.key.clone(), value);
        });
    }
}

impl HistogramFn for Handle {
    fn record(&self, value: f64) {
        if let Some(h) = &self.histogram {
            h.record(value);
        }
        self.inmem.with_state(|s| {
            let interval = s.current();
            match interval.samples.get_mut(&*self.key) {
                Some(agg) => agg.ingest(value),
                None => {
                    let mut agg = Aggregate::new();
                    agg.ingest(value);
                    interval.samples.insert(self.key.clone(), agg);
                }
            }
        });
    }
}

struct Fanout {
    /// `None` when Prometheus is not enabled: nothing is recorded for it.
    prometheus: Option<PrometheusRecorder>,
    inmem: Arc<Inmem>,
}

impl Fanout {
    fn handle(&self, key: &Key) -> Handle {
        Handle {
            key: series_key(key),
            inmem: self.inmem.clone(),
            counter: None,
            gauge: None,
            histogram: None,
        }
    }
}

impl metrics::Recorder for Fanout {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        if let Some(p) = &self.prometheus {
            p.describe_counter(key, unit, description);
        }
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        if let Some(p) = &self.prometheus {
            p.describe_gauge(key, unit, description);
        }
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        if let Some(p) = &self.prometheus {
            p.describe_histogram(key, unit, description);
        }
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        let mut h = self.handle(key);
        h.counter = self.prometheus.as_ref().map(|p| p.register_counter(key, metadata));
        Counter::from_arc(Arc::new(h))
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        let mut h = self.handle(key);
        h.gauge = self.prometheus.as_ref().map(|p| p.register_gauge(key, metadata));
        Gauge::from_arc(Arc::new(h))
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        let mut h = self.handle(key);
        h.histogram = self.prometheus.as_ref().map(|p| p.register_histogram(key, metadata));
        Histogram::from_arc(Arc::new(h))
    }
}

/// The installed recorder's two outputs.
pub struct Telemetry {
    prometheus: Option<PrometheusHandle>,
    inmem: Arc<Inmem>,
    started: Instant,
}

static GLOBAL: OnceLock<Telemetry> = OnceLock::new();

/// How often the Prometheus recorder folds recorded samples into its summaries and drops series idle past the
/// retention (without it, samples would pile up between scrapes).
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Install the process-wide recorder (the first call wins: its configuration applies; later calls get the same one).
pub fn install(config: &TelemetryConfig) -> &'static Telemetry {
    GLOBAL.get_or_init(|| {
        let prometheus = config.prometheus_retention.map(|retention| {
            let builder = PrometheusBuilder::new().idle_timeout(metrics_util_mask_all(), Some(retention));
            match builder.set_quantiles(&[0.5, 0.9, 0.99]) {
                Ok(b) => b,
                Err(_) => PrometheusBuilder::new(),
            }
            .build_recorder()
        });
        let handle = prometheus.as_ref().map(PrometheusRecorder::handle);
        if let Some(upkept) = handle.clone() {
            let spawned = std::thread::Builder::new()
                .name("vault-metrics-upkeep".into())
                .spawn(move || loop {
                    std::thread::sleep(UPKEEP_INTERVAL);
                    upkept.run_upkeep();
                });
            if let Err(e) = spawned {
                log::warn!("telemetry: could not start the Prometheus upkeep thread: {e}");
            }
        }
        let inmem = Arc::new(Inmem::default());
        let fanout = Fanout {
            prometheus,
            inmem: inmem.clone(),
        };
        if metrics::set_global_recorder(fanout).is_err() {
            log::warn!("telemetry: a metrics recorder was already installed; sys/metrics will stay empty");
        }
        Telemetry {
            prometheus: handle,
            inmem,
            started: Instant::now(),
        }
    })
}

fn metrics_util_mask_all() -> metrics_util::MetricKindMask {
    metrics_util::MetricKindMask::ALL
}

/// The installed recorder (installed with the defaults if the server has not installed it yet: in-process tests).
pub fn global() -> &'static Telemetry {
    install(&TelemetryConfig::default())
}

impl Telemetry {
    /// Prometheus' text exposition format (version 0.0.4); `None` when Prometheus is not enabled.
    pub fn render_prometheus(&self) -> Option<String> {
        let prometheus = self.prometheus.as_ref()?;
        prometheus.run_upkeep();
        let mut text = crate::process_metrics::prometheus_text();
        text.push_str(&prometheus.render());
        Some(text)
    }

    /// OpenBao's JSON summary (its encoder's bytes: fields in Go's order).
    pub fn render_json(&self) -> Vec<u8> {
        self.inmem.display()
    }

    /// Seconds since the recorder was installed (the server's start).
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }
}

/// Drop every gauge named `name` from the JSON form before a usage refresh sets the current ones (OpenBao's
/// in-memory sink keeps gauges per interval, so a label set no longer set disappears). The Prometheus form keeps a
/// series until the retention passes without an update, as OpenBao's Prometheus sink.
pub fn forget_gauges(name: &str) {
    global().inmem.with_state(|s| s.gauges.retain(|k, _| k.0 != name));
}

/// Histograms by name, registered once: recording then costs a map lookup, not a registration (which allocates the
/// series' key in both sinks).
static HISTOGRAMS: OnceLock<std::sync::RwLock<HashMap<String, Histogram>>> = OnceLock::new();

fn histogram(name: &str) -> Histogram {
    // A handle taken before the recorder is installed would stay a no-op.
    global();
    let cache = HISTOGRAMS.get_or_init(Default::default);
    if let Some(h) = cache.read().ok().and_then(|c| c.get(name).cloned()) {
        return h;
    }
    let h = metrics::histogram!(name.to_string());
    if let Ok(mut c) = cache.write() {
        c.insert(name.to_string(), h.clone());
    }
    h
}

/// Record the time since `start` in milliseconds under `name` (OpenBao's `MeasureSince`).
pub fn measure_since(name: &str, start: Instant) {
    histogram(name).record(start.elapsed().as_secs_f64() * 1000.0);
}

static COUNTERS: OnceLock<std::sync::RwLock<HashMap<String, Counter>>> = OnceLock::new();

/// Add `n` to the counter `name` (registered once, as [`histogram`]).
pub fn count(name: &str, n: u64) {
    global();
    let cache = COUNTERS.get_or_init(Default::default);
    if let Some(c) = cache.read().ok().and_then(|c| c.get(name).cloned()) {
        c.increment(n);
        return;
    }
    let c = metrics::counter!(name.to_string());
    c.increment(n);
    if let Ok(mut cache) = cache.write() {
        cache.insert(name.to_string(), c);
    }
}

/// Record `value` in the histogram `name` (a batch size).
pub fn record(name: &str, value: f64) {
    histogram(name).record(value);
}

/// Like [`measure_since`] with a name built at run time.
pub fn measure_since_named(name: String, start: Instant) {
    measure_since(&name, start);
}

/// OpenBao's accounting of a seal call (`vault.seal.<op>` and `vault.seal.<seal type>.<op>` counted, their
/// `.time` measured, `.error` counted on failure), around `call`. `op` is `encrypt` or `decrypt`; `seal_type` is
/// OpenBao's wrapper type (`shamir`, `static`, `transit`).
pub fn seal_call<T, E>(seal_type: &str, op: &str, call: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    let started = Instant::now();
    count(&format!("vault.seal.{op}"), 1);
    count(&format!("vault.seal.{seal_type}.{op}"), 1);
    let result = call();
    measure_since_named(format!("vault.seal.{op}.time"), started);
    measure_since_named(format!("vault.seal.{seal_type}.{op}.time"), started);
    if result.is_err() {
        count(&format!("vault.seal.{op}.error"), 1);
        count(&format!("vault.seal.{seal_type}.{op}.error"), 1);
    }
    result
}

/// Times its scope: records under `name` when dropped.
pub struct Timer {
    name: &'static str,
    start: Instant,
}

impl Timer {
    pub fn start(name: &'static str) -> Self {
        Timer {
            name,
            start: Instant::now(),
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        measure_since(self.name, self.start);
    }
}

/// OpenBao's TTL bucket label (`creation_ttl` of `vault.token.creation`).
pub fn ttl_bucket(ttl: Duration) -> &'static str {
    const BOUNDS: &[(u64, &str)] = &[
        (60, "1m"),
        (600, "10m"),
        (1200, "20m"),
        (3600, "1h"),
        (7200, "2h"),
        (86400, "1d"),
        (2 * 86400, "2d"),
        (7 * 86400, "7d"),
        (30 * 86400, "30d"),
    ];
    BOUNDS
        .iter()
        .find(|(secs, _)| ttl <= Duration::from_secs(*secs))
        .map(|(_, label)| *label)
        .unwrap_or("+Inf")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_like_go_metrics() {
        let mut a = Aggregate::new();
        for v in [1.0, 2.0, 3.0, 4.0] {
            a.ingest(v);
        }
        assert_eq!((a.count, a.sum, a.min, a.max), (4, 10.0, 1.0, 4.0));
        // Sample standard deviation of 1..4.
        assert!((a.stddev() - 1.2909944487358056).abs() < 1e-12);
        let one = {
            let mut a = Aggregate::new();
            a.ingest(5.0);
            a
        };
        assert_eq!(one.stddev(), 0.0);
    }

    #[test]
    fn ttl_buckets_are_openbaos() {
        assert_eq!(ttl_bucket(Duration::from_secs(0)), "1m");
        assert_eq!(ttl_bucket(Duration::from_secs(60)), "1m");
        assert_eq!(ttl_bucket(Duration::from_secs(61)), "10m");
        assert_eq!(ttl_bucket(Duration::from_secs(768 * 3600)), "+Inf");
        assert_eq!(ttl_bucket(Duration::from_secs(30 * 86400)), "30d");
    }

    #[test]
    fn whole_numbers_have_no_fraction() {
        assert_eq!(number(3.0).to_string(), "3");
        assert_eq!(number(0.25).to_string(), "0.25");
        assert_eq!(number(f64::NAN).to_string(), "0");
    }

    #[test]
    fn both_sinks_see_what_is_recorded() {
        let t = global();
        metrics::counter!("vault.test.telemetry_unit", "kind" => "x").increment(2);
        metrics::histogram!("vault.test.telemetry_unit_ms").record(4.0);
        metrics::gauge!("vault.test.telemetry_unit_gauge").set(7.0);
        assert_eq!(
            t.render_prometheus(),
            None,
            "no telemetry block: nothing kept for Prometheus"
        );
        let state = t.inmem.state.lock().unwrap();
        let current = state.intervals.back().unwrap();
        let key = (
            "vault.test.telemetry_unit".to_string(),
            vec![("kind".to_string(), "x".to_string())],
        );
        assert_eq!(current.counters.get(&key).unwrap().sum, 2.0);
        assert_eq!(
            state
                .gauges
                .get(&("vault.test.telemetry_unit_gauge".to_string(), vec![])),
            Some(&7.0)
        );
    }
}
