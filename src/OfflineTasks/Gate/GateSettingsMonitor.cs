using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OfflineTasks.Internal;

namespace OfflineTasks.Gate;

/// <summary>
/// The gate's current settings, following reloads of the <c>OfflineTasks:Gate</c> section: valid settings take
/// effect at once; invalid ones are rejected with every reason in the log, and the previous settings stay.
/// </summary>
internal sealed class GateSettingsMonitor : ReloadableSettings<GateOptions, GateSettings>
{
    public GateSettingsMonitor(IOptions<GateOptions> options, IConfiguration? configuration, Action<GateOptions>? configure, ILogger<GateSettingsMonitor> logger,
        Func<string, string?>? environment = null)
        : base(options, configuration, GateOptions.SectionName, configure, o => GateSettings.Resolve(o, environment ?? Environment.GetEnvironmentVariable), logger)
    {
    }

    // Records compare their lists by reference; compare what matters by value.
    protected override bool Same(GateSettings a, GateSettings b) =>
        a.ProbeInterval == b.ProbeInterval && a.RecoveryProbeInterval == b.RecoveryProbeInterval && a.ProbeTimeout == b.ProbeTimeout && a.LeaderLease == b.LeaderLease && a.StaleAfter == b.StaleAfter
        && a.ParkingDeadline == b.ParkingDeadline && a.Ramp == b.Ramp && a.Shards.Count == b.Shards.Count
        && a.Shards.All(s => b.Shards.TryGetValue(s.Key, out var other) && s.Value.Thresholds == other.Thresholds && s.Value.HoldTime == other.HoldTime
            && s.Value.WhenDegraded == other.WhenDegraded && s.Value.Masters.SequenceEqual(other.Masters));

    protected override string Describe(GateSettings settings) =>
        $"probe every {settings.ProbeInterval} ({settings.RecoveryProbeInterval} while closed), timeout {settings.ProbeTimeout}, {settings.Shards.Count} shards ({string.Join(", ", settings.Shards.Keys)})";
}
