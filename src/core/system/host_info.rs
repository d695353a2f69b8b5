//! `sys/host-info`: the host's CPUs, CPU times, disks, identity and memory in OpenBao's shape (the field names and
//! units of the gopsutil structures it returns), read straight from Linux's `/proc` and `statfs`. Reading `/proc`
//! rather than using a crate such as `sysinfo`: every field here is one line of `/proc/cpuinfo`, `/proc/stat` or
//! `/proc/meminfo` (gopsutil does the same), and `sysinfo`'s model lacks most of them (stepping, microcode, flags,
//! inode counts, the meminfo breakdown). A section that cannot be read is left out and named in a warning, as
//! OpenBao does.

use std::collections::HashSet;
use std::fs;

use serde_json::{json, Map, Value};

/// The host's facts, and a warning for each section that could not be read.
pub fn collect() -> (Map<String, Value>, Vec<String>) {
    let mut data = Map::new();
    let mut warnings = Vec::new();
    let mut section = |name: &str, value: Result<Value, String>| match value {
        Ok(v) => {
            data.insert(name.to_string(), v);
        }
        Err(e) => warnings.push(format!("{name}: {e}")),
    };
    section("host", host());
    section("memory", memory());
    section("disk", disks());
    section("cpu", cpus());
    section("cpu_times", cpu_times());
    data.insert(
        "timestamp".into(),
        json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)),
    );
    (data, warnings)
}

fn read(path: &str) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("reading {path}: {e}"))
}

fn first_line(path: &str) -> String {
    fs::read_to_string(path)
        .map(|t| t.lines().next().unwrap_or("").trim().to_string())
        .unwrap_or_default()
}

/// `/proc/cpuinfo`, one object per logical processor (gopsutil's `cpu.InfoStat`).
fn cpus() -> Result<Value, String> {
    let text = read("/proc/cpuinfo")?;
    let mut out = Vec::new();
    for block in text.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let field = |name: &str| {
            block
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim() == name)
                .map(|(_, v)| v.trim().to_string())
                .unwrap_or_default()
        };
        let Ok(cpu) = field("processor").parse::<i64>() else {
            continue;
        };
        let freq = first_line(&format!("/sys/devices/system/cpu/cpu{cpu}/cpufreq/cpuinfo_max_freq"));
        let mhz = match freq.parse::<f64>() {
            Ok(khz) => khz / 1000.0,
            Err(_) => field("cpu MHz").parse::<f64>().unwrap_or(0.0),
        };
        let cache = field("cache size");
        let flags: Vec<String> = field("flags").split_whitespace().map(str::to_string).collect();
        out.push(json!({
            "cpu": cpu,
            "vendorId": field("vendor_id"),
            "family": field("cpu family"),
            "model": field("model"),
            "stepping": field("stepping").parse::<i64>().unwrap_or(0),
            "physicalId": field("physical id"),
            "coreId": field("core id"),
            "cores": 1,
            "modelName": field("model name"),
            "mhz": mhz,
            "cacheSize": cache.trim_end_matches("KB").trim().parse::<i64>().unwrap_or(0),
            "flags": flags,
            "microcode": field("microcode"),
        }));
    }
    Ok(Value::Array(out))
}

/// `/proc/stat`'s per-CPU lines in seconds (gopsutil's `cpu.TimesStat`; the kernel counts in 1/100 s).
fn cpu_times() -> Result<Value, String> {
    let text = read("/proc/stat")?;
    let mut out = Vec::new();
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let Some(name) = parts.next().filter(|n| n.starts_with("cpu") && n.len() > 3) else {
            continue;
        };
        let v: Vec<f64> = parts.map(|p| p.parse::<f64>().unwrap_or(0.0) / 100.0).collect();
        let at = |i: usize| v.get(i).copied().unwrap_or(0.0);
        out.push(json!({
            "cpu": name,
            "user": at(0),
            "system": at(2),
            "idle": at(3),
            "nice": at(1),
            "iowait": at(4),
            "irq": at(5),
            "softirq": at(6),
            "steal": at(7),
            "guest": at(8),
            "guestNice": at(9),
        }));
    }
    Ok(Value::Array(out))
}

/// gopsutil's name of a filesystem from `statfs`'s magic number.
fn fs_type_name(magic: u64) -> String {
    match magic {
        0xEF53 => "ext2/ext3",
        0x9123_683E => "btrfs",
        0x5846_5342 => "xfs",
        0x0102_1994 => "tmpfs",
        0x794C_7630 => "overlayfs",
        0x6969 => "nfs",
        0x2FC1_2FC1 => "zfs",
        0x6573_5546 => "fuse",
        0x7371_7368 => "squashfs",
        0xE0F5_E1E2 => "erofs",
        0x4D44 => "msdos",
        0xF2F5_2010 => "f2fs",
        0x5265_4973 => "reiserfs",
        _ => return format!("0x{magic:x}"),
    }
    .to_string()
}

/// Mount points of physical filesystems (types `/proc/filesystems` lists without `nodev`), once each, as gopsutil's
/// `disk.Partitions(false)`; their usage as `disk.UsageStat`.
#[allow(clippy::unnecessary_cast)] // `statfs`'s field types differ between platforms.
fn disks() -> Result<Value, String> {
    let physical: HashSet<String> = read("/proc/filesystems")?
        .lines()
        .filter(|l| !l.starts_with("nodev"))
        .map(|l| l.trim().to_string())
        .collect();
    let mountinfo = read("/proc/1/mountinfo").or_else(|_| read("/proc/self/mountinfo"))?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let Some(mount_point) = left.split_whitespace().nth(4) else {
            continue;
        };
        let mut right = right.split_whitespace();
        let (Some(fstype), Some(device)) = (right.next(), right.next()) else {
            continue;
        };
        if !physical.contains(fstype) || device == "none" {
            continue;
        }
        let mount_point = mount_point.replace("\\040", " ").replace("\\011", "\t");
        if !seen.insert(mount_point.clone()) {
            continue;
        }
        let Ok(stat) = rustix::fs::statfs(mount_point.as_str()) else {
            continue;
        };
        let bsize = stat.f_bsize as u64;
        let total = stat.f_blocks as u64 * bsize;
        let free = stat.f_bavail as u64 * bsize;
        let used = (stat.f_blocks as u64).saturating_sub(stat.f_bfree as u64) * bsize;
        let percent = |part: u64, whole: u64| {
            if whole == 0 {
                0.0
            } else {
                part as f64 / whole as f64 * 100.0
            }
        };
        let inodes_total = stat.f_files as u64;
        let inodes_free = stat.f_ffree as u64;
        let inodes_used = inodes_total.saturating_sub(inodes_free);
        out.push(json!({
            "path": mount_point,
            "fstype": fs_type_name(stat.f_type as u64),
            "total": total,
            "free": free,
            "used": used,
            "usedPercent": percent(used, used + free),
            "inodesTotal": inodes_total,
            "inodesUsed": inodes_used,
            "inodesFree": inodes_free,
            "inodesUsedPercent": percent(inodes_used, inodes_total),
        }));
    }
    Ok(Value::Array(out))
}

/// `/etc/os-release`'s value of `key`, unquoted.
fn os_release(text: &str, key: &str) -> String {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
        .unwrap_or_default()
}

/// gopsutil's `PlatformInformation`: the distribution, its family and version.
fn platform() -> (String, String, String) {
    let release = fs::read_to_string("/etc/os-release").unwrap_or_default();
    let id = os_release(&release, "ID");
    let mut version = os_release(&release, "VERSION_ID");
    if id == "debian" {
        let debian = first_line("/etc/debian_version");
        if !debian.is_empty() {
            version = debian;
        }
    }
    let family = match id.as_str() {
        "debian" | "ubuntu" | "linuxmint" | "raspbian" => "debian",
        "rhel" | "centos" | "fedora" | "oracle" | "rocky" | "almalinux" | "amzn" | "redhat" => "rhel",
        "suse" | "opensuse" | "opensuse-leap" | "opensuse-tumbleweed" | "sles" => "suse",
        "gentoo" => "gentoo",
        "arch" | "manjaro" => "arch",
        "alpine" => "alpine",
        "slackware" => "slackware",
        _ => "",
    };
    (id, family.to_string(), version)
}

/// Containers gopsutil recognizes from their marker files (`VirtualizationSystem`, role `guest`).
fn virtualization() -> (&'static str, &'static str) {
    if fs::metadata("/.dockerenv").is_ok() {
        return ("docker", "guest");
    }
    if fs::metadata("/run/.containerenv").is_ok() {
        return ("podman", "guest");
    }
    let cgroup = fs::read_to_string("/proc/1/cgroup").unwrap_or_default();
    if cgroup.contains("docker") {
        return ("docker", "guest");
    }
    if cgroup.contains("lxc") {
        return ("lxc", "guest");
    }
    ("", "")
}

/// The DMI product UUID, else the machine id as a UUID, else the boot id (gopsutil's order).
fn host_id() -> String {
    let product = first_line("/sys/class/dmi/id/product_uuid").to_lowercase();
    if !product.is_empty() {
        return product;
    }
    let machine = first_line("/etc/machine-id");
    if machine.len() == 32 && machine.bytes().all(|b| b.is_ascii_hexdigit()) {
        let m = machine.to_lowercase();
        return format!("{}-{}-{}-{}-{}", &m[..8], &m[8..12], &m[12..16], &m[16..20], &m[20..]);
    }
    first_line("/proc/sys/kernel/random/boot_id").to_lowercase()
}

/// gopsutil's `host.InfoStat` (the fields OpenBao keeps).
fn host() -> Result<Value, String> {
    let uptime = read("/proc/uptime")?
        .split_whitespace()
        .next()
        .and_then(|u| u.parse::<f64>().ok())
        .unwrap_or(0.0) as u64;
    let boot_time = read("/proc/stat")?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|b| b.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let procs = fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()))
                .count()
        })
        .unwrap_or(0);
    let (platform, family, version) = platform();
    let (virt_system, virt_role) = virtualization();
    Ok(json!({
        "hostname": first_line("/proc/sys/kernel/hostname"),
        "uptime": uptime,
        "bootTime": boot_time,
        "procs": procs,
        "os": std::env::consts::OS,
        "platform": platform,
        "platformFamily": family,
        "platformVersion": version,
        "kernelVersion": first_line("/proc/sys/kernel/osrelease"),
        "kernelArch": std::env::consts::ARCH,
        "virtualizationSystem": virt_system,
        "virtualizationRole": virt_role,
        "hostid": host_id(),
    }))
}

/// `/proc/meminfo` as gopsutil's `mem.VirtualMemoryStat`, in bytes; `used` is total minus available and `cached`
/// includes the reclaimable slab, as gopsutil computes them.
fn memory() -> Result<Value, String> {
    let text = read("/proc/meminfo")?;
    let get = |key: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(key).and_then(|rest| rest.strip_prefix(':')))
            .map(|rest| {
                let mut parts = rest.split_whitespace();
                let n = parts.next().and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
                if parts.next() == Some("kB") {
                    n * 1024
                } else {
                    n
                }
            })
            .unwrap_or(0)
    };
    let total = get("MemTotal");
    let available = get("MemAvailable");
    let used = total.saturating_sub(available);
    let used_percent = if total == 0 {
        0.0
    } else {
        used as f64 / total as f64 * 100.0
    };
    Ok(json!({
        "total": total,
        "available": available,
        "used": used,
        "usedPercent": used_percent,
        "free": get("MemFree"),
        "active": get("Active"),
        "inactive": get("Inactive"),
        "wired": 0,
        "laundry": 0,
        "buffers": get("Buffers"),
        "cached": get("Cached") + get("SReclaimable"),
        "writeback": get("Writeback"),
        "dirty": get("Dirty"),
        "writebacktmp": get("WritebackTmp"),
        "shared": get("Shmem"),
        "slab": get("Slab"),
        "sreclaimable": get("SReclaimable"),
        "sunreclaim": get("SUnreclaim"),
        "pagetables": get("PageTables"),
        "swapcached": get("SwapCached"),
        "commitlimit": get("CommitLimit"),
        "committedas": get("Committed_AS"),
        "hightotal": get("HighTotal"),
        "highfree": get("HighFree"),
        "lowtotal": get("LowTotal"),
        "lowfree": get("LowFree"),
        "swaptotal": get("SwapTotal"),
        "swapfree": get("SwapFree"),
        "mapped": get("Mapped"),
        "vmalloctotal": get("VmallocTotal"),
        "vmallocused": get("VmallocUsed"),
        "vmallocchunk": get("VmallocChunk"),
        "hugepagestotal": get("HugePages_Total"),
        "hugepagesfree": get("HugePages_Free"),
        "hugepagesize": get("Hugepagesize"),
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_section_is_read_on_linux() {
        let (data, warnings) = super::collect();
        assert!(warnings.is_empty(), "{warnings:?}");
        for key in ["cpu", "cpu_times", "disk", "host", "memory", "timestamp"] {
            assert!(data.contains_key(key), "{key}");
        }
        let memory = &data["memory"];
        assert!(memory["total"].as_u64().unwrap() > 0);
        assert_eq!(
            memory["used"].as_u64().unwrap(),
            memory["total"].as_u64().unwrap() - memory["available"].as_u64().unwrap()
        );
        assert!(!data["cpu"].as_array().unwrap().is_empty());
        assert_eq!(data["host"]["os"], "linux");
    }
}
