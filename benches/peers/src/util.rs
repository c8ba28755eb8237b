//! Small helpers: CPU pinning, file-descriptor limit, /proc readings, statistics, args.

use std::collections::HashMap;
use std::time::Duration;

/// Pins the calling thread to `cpu` (threads and processes it starts afterwards inherit the
/// mask). Does nothing, and says so, when the machine has no such CPU or the call fails.
pub fn pin_to_cpu(cpu: usize) -> bool {
    // Online CPUs, not `available_parallelism` (which honours the mask already set).
    // SAFETY: sysconf has no preconditions.
    let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as usize;
    if cpu >= cpus {
        eprintln!("note: only {cpus} CPU(s) available; not pinning to CPU {cpu}");
        return false;
    }
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes inside it; pid 0 is
    // the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            eprintln!("note: sched_setaffinity(CPU {cpu}) failed: {}", std::io::Error::last_os_error());
            return false;
        }
    }
    true
}

/// Raises the soft open-files limit to the hard one (1,000 connections need it on some hosts).
pub fn raise_nofile() {
    // SAFETY: plain getrlimit/setrlimit on a local struct.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// A field of /proc/self/status in kB (`VmHWM`, `VmRSS`), 0 when unreadable.
pub fn proc_status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// A current-thread tokio runtime with I/O and timers.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime")
}

pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

pub fn min(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

pub fn max(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

/// `--key value` pairs and bare `--flag`s (the flags are named up front).
pub struct Args {
    values: HashMap<String, String>,
    flags: Vec<String>,
}

impl Args {
    pub fn parse(args: &[String], flag_names: &[&str]) -> Result<Args, String> {
        let mut values = HashMap::new();
        let mut flags = Vec::new();
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            let Some(key) = arg.strip_prefix("--") else {
                return Err(format!("unexpected argument {arg:?}"));
            };
            if flag_names.contains(&key) {
                flags.push(key.to_owned());
            } else {
                let value = iter.next().ok_or_else(|| format!("--{key} needs a value"))?;
                values.insert(key.to_owned(), value.clone());
            }
        }
        Ok(Args { values, flags })
    }

    pub fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }

    pub fn str(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn num<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.values.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("--{name}: not a number: {v:?}")),
        }
    }

    pub fn seconds(&self, name: &str, default: u64) -> Result<Duration, String> {
        self.num(name, default).map(Duration::from_secs)
    }
}

/// CPU time (user + system) the calling thread has used, in seconds (CLOCK_THREAD_CPUTIME_ID:
/// nanosecond resolution, unlike getrusage's scheduler ticks). The clients run on the main
/// thread's current-thread runtime, so this is the client's cost alone.
pub fn thread_cpu_secs() -> f64 {
    // SAFETY: clock_gettime fills a local struct.
    unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        if libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) != 0 {
            return f64::NAN;
        }
        ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
    }
}
