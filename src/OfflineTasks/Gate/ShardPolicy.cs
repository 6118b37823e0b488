using System.Globalization;
using OfflineTasks.Gate.MySql;

namespace OfflineTasks.Gate;

/// <summary>A shard's gate state as the policy sees it between two evaluations.</summary>
/// <param name="Mode">Open, closed, or open for light jobs only.</param>
/// <param name="Reason">Why the shard entered <paramref name="Mode"/>.</param>
/// <param name="ChangedAt">When it entered <paramref name="Mode"/> (the prober's clock).</param>
/// <param name="CalmSince">While not open: since when nothing has held it (every signal below low-water); null if something holds it now.</param>
/// <param name="Holding">While not open: what holds it now; null when calm or open.</param>
/// <param name="Kind">While not open: what kind of reason closed it: <c>load</c>, <c>degraded</c> or <c>unknown</c>.</param>
internal sealed record ShardPolicyState(ShardMode Mode, string Reason, DateTimeOffset ChangedAt, DateTimeOffset? CalmSince, string? Holding, string Kind = "");

/// <summary>
/// The gate's hysteresis: a shard closes as soon as any signal reaches its high-water mark, its status is unknown,
/// or its pair is not redundant; it reopens only after every signal has stayed below its low-water mark (and the
/// pair redundant) for the hold time. Pure: the same inputs give the same state.
/// </summary>
internal static class ShardPolicy
{
    private enum Kind
    {
        Load,       // at or above high-water: closes
        Unknown,    // status unreadable: closes (fail closed)
        Degraded,   // pair not redundant: closes, or light jobs only
        NotCalm,    // between the marks: keeps a closed shard closed, does not close an open one
    }

    private readonly record struct Finding(Kind Kind, string Text);

    public static ShardPolicyState Evaluate(ShardPolicyState previous, ShardSettings shard, IReadOnlyList<MasterSample> samples, DateTimeOffset now)
    {
        var findings = Assess(shard, samples, now);
        var hard = findings.Where(f => f.Kind is Kind.Load or Kind.Unknown || (f.Kind == Kind.Degraded && shard.WhenDegraded == DegradedPolicy.Close)).ToList();
        var degraded = findings.Where(f => f.Kind == Kind.Degraded).ToList();
        var notCalm = findings.Where(f => f.Kind == Kind.NotCalm).ToList();

        if (hard.Count > 0)
        {
            var reason = string.Join("; ", hard.Select(f => f.Text));
            return previous.Mode == ShardMode.Closed
                ? previous with { CalmSince = null, Holding = reason }
                : new ShardPolicyState(ShardMode.Closed, reason, now, null, reason, KindName(hard[0].Kind));
        }

        if (previous.Mode == ShardMode.Open)
        {
            if (degraded.Count > 0)
            {
                var reason = string.Join("; ", degraded.Select(f => f.Text));
                return new ShardPolicyState(ShardMode.LightOnly, reason + " (open for light jobs only)", now, null, reason, "degraded");
            }

            return previous;
        }

        // Closed or light-only, and nothing closes it now: it may move up once calm for the hold time.
        var holding = notCalm.Concat(previous.Mode == ShardMode.LightOnly ? degraded : []).ToList();
        if (holding.Count > 0)
        {
            return previous with { CalmSince = null, Holding = string.Join("; ", holding.Select(f => f.Text)) };
        }

        var calmSince = previous.CalmSince ?? now;
        var calmFor = now - calmSince;
        if (calmFor < shard.HoldTime)
        {
            return previous with { CalmSince = calmSince, Holding = null };
        }

        var calm = string.Create(CultureInfo.InvariantCulture, $"every signal below its low-water mark for {calmFor.TotalSeconds:0.0} s");
        if (degraded.Count > 0)
        {
            // Closed → light only: the load is calm but the pair is still degraded.
            var reason = string.Join("; ", degraded.Select(f => f.Text));
            return new ShardPolicyState(ShardMode.LightOnly, $"{calm}, but {reason} (open for light jobs only)", now, null, reason, "degraded");
        }

        return new ShardPolicyState(ShardMode.Open, calm + (previous.Mode == ShardMode.LightOnly ? " and the pair redundant again" : ""), now, null, null);
    }

    private static string KindName(Kind kind) => kind switch
    {
        Kind.Load => "load",
        Kind.Degraded => "degraded",
        _ => "unknown",
    };

    private static List<Finding> Assess(ShardSettings shard, IReadOnlyList<MasterSample> samples, DateTimeOffset now)
    {
        var findings = new List<Finding>();
        var t = shard.Thresholds;
        var readOnly = 0;
        foreach (var master in shard.Masters)
        {
            var sample = samples.FirstOrDefault(s => s.Master.Name == master.Name);
            if (sample is null)
            {
                findings.Add(new(Kind.Unknown, $"status of {master.Name} unknown: not probed"));
                continue;
            }

            var age = Age(sample, now);
            if (sample.Status is not { } status)
            {
                if (sample.ErrorCode == MasterSample.TooManyConnections)
                {
                    findings.Add(new(Kind.Load, $"Threads_connected/max_connections at 1 on {master.Name}: {sample.Error} ({age})"));
                    continue;
                }

                findings.Add(sample.Failure == MySqlStatusFailure.Unreachable
                    ? new(Kind.Degraded, $"{master.Name} unreachable: {sample.Error} ({age})")
                    : new(Kind.Unknown, $"status of {master.Name} unknown: {sample.Error} ({age})"));
                continue;
            }

            Check(findings, "Threads_connected/max_connections", sample.ConnectionsRatio ?? 1.0, t.ConnectionsRatio, "0.00", master.Name, age, Kind.Load);
            Check(findings, "Threads_running", status.ThreadsRunning, t.ThreadsRunning, "0", master.Name, age, Kind.Load);
            if (status.ReadOnly)
            {
                readOnly++;
            }

            if (status.Replication.Count == 0)
            {
                findings.Add(new(Kind.Degraded, $"{master.Name} does not replicate from its peer ({age})"));
                continue;
            }

            foreach (var channel in status.Replication)
            {
                var from = channel.SourceHost is null ? "" : $" from {channel.SourceHost}:{channel.SourcePort}";
                var error = string.IsNullOrEmpty(channel.LastError) ? "" : $": {channel.LastError}";
                if (!channel.IoRunning)
                {
                    findings.Add(new(Kind.Degraded, $"replication IO thread not running on {master.Name}{from}{error} ({age})"));
                }

                if (!channel.SqlRunning)
                {
                    findings.Add(new(Kind.Degraded, $"replication SQL thread not running on {master.Name}{from}{error} ({age})"));
                }

                if (channel.IoRunning && channel.SqlRunning)
                {
                    Check(findings, "replication lag (s)", channel.LagSeconds ?? double.PositiveInfinity, t.ReplicationLagSeconds, "0.#", master.Name, age, Kind.Degraded);
                }
            }
        }

        if (readOnly == shard.Masters.Count)
        {
            findings.Add(new(Kind.Degraded, "both masters are read_only: the pair has no writable master"));
        }

        return findings;
    }

    private static void Check(List<Finding> findings, string signal, double value, Mark mark, string format, string master, string age, Kind kind)
    {
        var v = value.ToString(format, CultureInfo.InvariantCulture);
        if (value >= mark.High)
        {
            findings.Add(new(kind, string.Create(CultureInfo.InvariantCulture, $"{signal} {v} >= {mark.High} on {master} ({age})")));
        }
        else if (value >= mark.Low)
        {
            findings.Add(new(Kind.NotCalm, string.Create(CultureInfo.InvariantCulture, $"{signal} {v} not below low-water {mark.Low} on {master} ({age})")));
        }
    }

    private static string Age(MasterSample sample, DateTimeOffset now) =>
        string.Create(CultureInfo.InvariantCulture, $"sample age {Math.Max(0, (now - sample.SampledAt).TotalSeconds):0.0} s");
}
