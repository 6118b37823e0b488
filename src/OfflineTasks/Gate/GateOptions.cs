namespace OfflineTasks.Gate;

/// <summary>
/// Settings of the load-feedback gate: the shard topology, the thresholds that close and reopen a shard, how long a
/// job may stay parked before it is reported, and how a reopened shard's parked jobs are released. Bound from the <c>OfflineTasks:Gate</c> configuration section, validated at start by
/// <see cref="GateOptionsValidator"/>, and reloaded when the configuration changes (an invalid reload keeps the
/// previous settings). Each default is given on its property.
/// </summary>
public sealed class GateOptions
{
    /// <summary>The configuration section these options are bound from.</summary>
    public const string SectionName = "OfflineTasks:Gate";

    /// <summary>
    /// How often each master of an open shard is probed, over a kept-open connection, with one round trip of two
    /// status statements (8 statements per second per master at the default). Default 250 ms.
    /// </summary>
    public TimeSpan ProbeInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// How often each master of a closed (or light-only) shard is probed until the shard reopens, so that the end
    /// of the stress is seen soon after it happens (20 statements per second per master of that shard at the
    /// default). A value above <see cref="ProbeInterval"/> is taken as <see cref="ProbeInterval"/>. Default 100 ms.
    /// </summary>
    public TimeSpan RecoveryProbeInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// How long one probe may take before the master's status counts as unknown and its shard closes: a server
    /// that does not answer a status read within this long is hung or badly overloaded, and is treated as such at
    /// once rather than at the end of a long timeout. Keep it well above a healthy probe's round trip (about 1 ms on
    /// a local network, and above the stalls a busy host adds to it). Default 250 ms.
    /// </summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How long every signal of a closed shard must stay below its low-water mark before it reopens. Default 5 s.</summary>
    public TimeSpan HoldTime { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The thresholds of every shard, unless a shard overrides them.</summary>
    public ShardThresholds Thresholds { get; set; } = new();

    /// <summary>What a shard whose master pair is not redundant does. Default <see cref="DegradedPolicy.Close"/>.</summary>
    public DegradedPolicy WhenDegraded { get; set; } = DegradedPolicy.Close;

    /// <summary>How long a job may stay parked before it is reported; see <see cref="ParkingOptions"/>.</summary>
    public ParkingOptions Parking { get; set; } = new();

    /// <summary>How fast a reopened shard's parked jobs are released; see <see cref="RampOptions"/>.</summary>
    public RampOptions Ramp { get; set; } = new();

    /// <summary>
    /// How long the prober's and the releaser's leadership lasts without renewal: when the leading process dies,
    /// another takes the role over this long after its last renewal. Default 3 s.
    /// </summary>
    public TimeSpan LeaderLease { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// A shard state not refreshed by a prober for this long counts as closed (fail closed: no prober, no
    /// knowledge of the shard's load). Must exceed <see cref="LeaderLease"/> plus <see cref="ProbeInterval"/>. Default 10 s.
    /// </summary>
    public TimeSpan StaleAfter { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The shards by name (what <c>[Shard]</c> formats to, or the shard given at enqueue), each a pair of masters.</summary>
    public IDictionary<string, ShardOptions> Shards { get; set; } = new Dictionary<string, ShardOptions>(StringComparer.Ordinal);
}

/// <summary>One shard: a pair of masters in master-master replication, and optional overrides of the gate's defaults.</summary>
public sealed class ShardOptions
{
    /// <summary>The two masters of the pair.</summary>
    public IList<MasterOptions> Masters { get; set; } = new List<MasterOptions>();

    /// <summary>Thresholds of this shard; a threshold left out takes the gate's.</summary>
    public ShardThresholdOverrides? Thresholds { get; set; }

    /// <summary>This shard's hold time; null takes <see cref="GateOptions.HoldTime"/>.</summary>
    public TimeSpan? HoldTime { get; set; }

    /// <summary>This shard's answer to a degraded pair; null takes <see cref="GateOptions.WhenDegraded"/>.</summary>
    public DegradedPolicy? WhenDegraded { get; set; }
}

/// <summary>How to reach one master. Put the password in an environment variable and name it in <see cref="PasswordEnvironmentVariable"/>.</summary>
public sealed class MasterOptions
{
    /// <summary>The master's name in logs, reasons and metrics (e.g. <c>users-2a</c>). Default: the shard name with <c>a</c> or <c>b</c> appended.</summary>
    public string? Name { get; set; }

    /// <summary>Host name or address. Default <c>127.0.0.1</c>.</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>TCP port. Default 3306.</summary>
    public int Port { get; set; } = 3306;

    /// <summary>Unix socket path; when set, <see cref="Host"/> and <see cref="Port"/> are not used.</summary>
    public string? Socket { get; set; }

    /// <summary>The probe's user; it needs only the PROCESS and REPLICATION CLIENT (MariaDB: SLAVE MONITOR) privileges.</summary>
    public string User { get; set; } = "";

    /// <summary>The password, if it must be in configuration (prefer <see cref="PasswordEnvironmentVariable"/>). Never logged.</summary>
    public string? Password { get; set; }

    /// <summary>The environment variable that holds the password. Read when the configuration is loaded; never logged.</summary>
    public string? PasswordEnvironmentVariable { get; set; }
}

/// <summary>The gate's high-water (close) and low-water (may reopen) marks for each signal.</summary>
public sealed class ShardThresholds
{
    /// <summary><c>Threads_connected / max_connections</c> on either master. Default 0.80 / 0.60.</summary>
    public Watermark ConnectionsRatio { get; set; } = new() { High = 0.80, Low = 0.60 };

    /// <summary><c>Threads_running</c> on either master. Default 40 / 20.</summary>
    public Watermark ThreadsRunning { get; set; } = new() { High = 40, Low = 20 };

    /// <summary>Replication lag in seconds of either master behind the other. Default 5 / 2.</summary>
    public Watermark ReplicationLagSeconds { get; set; } = new() { High = 5, Low = 2 };
}

/// <summary>Per-shard threshold overrides; a null one takes the gate's value.</summary>
public sealed class ShardThresholdOverrides
{
    /// <summary>Overrides <see cref="ShardThresholds.ConnectionsRatio"/>.</summary>
    public Watermark? ConnectionsRatio { get; set; }

    /// <summary>Overrides <see cref="ShardThresholds.ThreadsRunning"/>.</summary>
    public Watermark? ThreadsRunning { get; set; }

    /// <summary>Overrides <see cref="ShardThresholds.ReplicationLagSeconds"/>.</summary>
    public Watermark? ReplicationLagSeconds { get; set; }
}

/// <summary>A pair of marks: a signal at or above <see cref="High"/> closes the shard; it may reopen once below <see cref="Low"/>.</summary>
public sealed class Watermark
{
    /// <summary>High-water mark: at or above it, the shard closes.</summary>
    public double High { get; set; }

    /// <summary>Low-water mark: the signal must be below it (for the hold time) before the shard reopens. Below <see cref="High"/>.</summary>
    public double Low { get; set; }

    /// <inheritdoc />
    public override string ToString() => $"{Low} / {High}";
}

/// <summary>What a shard does while its master pair is not redundant (a master down, replication stopped or lagging).</summary>
public enum DegradedPolicy
{
    /// <summary>Close the shard: no job runs on it.</summary>
    Close,

    /// <summary>Keep it open for light jobs (<c>[Shard(..., Light = true)]</c>); close it for the rest.</summary>
    OpenForLightJobs,
}

/// <summary>How long a job may stay parked.</summary>
public sealed class ParkingOptions
{
    /// <summary>
    /// A job parked for longer than this in all (since it was first parked) is reported: logged as an error, noted in
    /// its history and counted in <c>offlinetasks.jobs.park_deadline_exceeded</c>. It stays parked; it is never
    /// dropped. Default 1 h.
    /// </summary>
    public TimeSpan Deadline { get; set; } = TimeSpan.FromHours(1);
}

/// <summary>
/// The reopening ramp: the moment a shard reopens, its oldest parked job is released; then its parked jobs are released
/// at <see cref="InitialRate"/> jobs per second; the rate doubles every <see cref="DoublingInterval"/>, and after <see cref="Duration"/> the rest is released
/// as fast as the releaser can, in batches of many jobs per transaction. Jobs enqueued while the shard is open are not held back.
/// </summary>
public sealed class RampOptions
{
    /// <summary>Jobs per second released right after the shard reopens. 0.1 to 100,000, default 10.</summary>
    public double InitialRate { get; set; } = 10;

    /// <summary>How often the rate doubles. Default 2 s.</summary>
    public TimeSpan DoublingInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long after reopening the rate is limited; zero releases at full speed at once. Default 10 s.</summary>
    public TimeSpan Duration { get; set; } = TimeSpan.FromSeconds(10);
}
