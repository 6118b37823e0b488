using System.Globalization;
using OfflineTasks.Gate.MySql;

namespace OfflineTasks.Gate;

/// <summary>
/// The gate's settings resolved from <see cref="GateOptions"/>: defaults merged into each shard, passwords read
/// from their environment variables. Immutable; a configuration reload builds a new one.
/// </summary>
internal sealed record GateSettings(
    TimeSpan ProbeInterval,
    TimeSpan RecoveryProbeInterval,
    TimeSpan ProbeTimeout,
    TimeSpan LeaderLease,
    TimeSpan StaleAfter,
    TimeSpan ParkingDeadline,
    RampSettings Ramp,
    IReadOnlyDictionary<string, ShardSettings> Shards)
{
    /// <summary>Resolves and validates <paramref name="options"/>; every problem is in the returned list, naming the key and the value.</summary>
    public static (GateSettings? Settings, IReadOnlyList<string> Errors) Resolve(GateOptions options, Func<string, string?> environment)
    {
        const string s = GateOptions.SectionName;
        var errors = new List<string>();

        void Positive(string key, TimeSpan value)
        {
            if (value <= TimeSpan.Zero)
            {
                errors.Add($"{s}:{key} = {value} is invalid: it must be a positive duration (e.g. \"00:00:01\").");
            }
        }

        void NotNegative(string key, TimeSpan value)
        {
            if (value < TimeSpan.Zero)
            {
                errors.Add($"{s}:{key} = {value} is invalid: it must not be negative.");
            }
        }

        Positive(nameof(options.ProbeInterval), options.ProbeInterval);
        Positive(nameof(options.RecoveryProbeInterval), options.RecoveryProbeInterval);
        Positive(nameof(options.ProbeTimeout), options.ProbeTimeout);
        NotNegative(nameof(options.HoldTime), options.HoldTime);
        Positive(nameof(options.LeaderLease), options.LeaderLease);
        if (options.StaleAfter <= options.LeaderLease + options.ProbeInterval)
        {
            errors.Add($"{s}:{nameof(options.StaleAfter)} = {options.StaleAfter} is invalid: it must exceed {s}:{nameof(options.LeaderLease)} + {s}:{nameof(options.ProbeInterval)} ({options.LeaderLease + options.ProbeInterval}), or shards close whenever the prober changes hands.");
        }

        var parking = options.Parking ?? new ParkingOptions();
        Positive("Parking:Deadline", parking.Deadline);

        var ramp = options.Ramp ?? new RampOptions();
        if (!(ramp.InitialRate is >= 0.1 and <= 100_000))
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{s}:Ramp:InitialRate = {ramp.InitialRate} is invalid: it must be between 0.1 and 100000 (jobs per second)."));
        }

        Positive("Ramp:DoublingInterval", ramp.DoublingInterval);
        NotNegative("Ramp:Duration", ramp.Duration);

        var defaults = options.Thresholds ?? new ShardThresholds();
        CheckWatermark(errors, $"{s}:Thresholds:ConnectionsRatio", defaults.ConnectionsRatio, 1.0);
        CheckWatermark(errors, $"{s}:Thresholds:ThreadsRunning", defaults.ThreadsRunning, null);
        CheckWatermark(errors, $"{s}:Thresholds:ReplicationLagSeconds", defaults.ReplicationLagSeconds, null);

        var shards = new Dictionary<string, ShardSettings>(StringComparer.Ordinal);
        var masterNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, shard) in options.Shards ?? new Dictionary<string, ShardOptions>())
        {
            var key = $"{s}:Shards:{name}";
            if (string.IsNullOrWhiteSpace(name) || name.Length > 128)
            {
                errors.Add($"{key} is invalid: a shard name must be 1 to 128 characters and not blank (it is the jobs' shard key).");
                continue;
            }

            if (shard is null)
            {
                errors.Add($"{key} is empty: a shard needs its two masters under {key}:Masters.");
                continue;
            }

            var masters = shard.Masters ?? [];
            if (masters.Count != 2)
            {
                errors.Add($"{key}:Masters has {masters.Count} masters: a shard is a master-master pair and needs exactly 2.");
            }

            var endpoints = new List<MySqlEndpoint>();
            for (var i = 0; i < masters.Count; i++)
            {
                var m = masters[i];
                var mkey = $"{key}:Masters:{i}";
                var masterName = string.IsNullOrWhiteSpace(m.Name) ? name + (char)('a' + i) : m.Name;
                if (!masterNames.Add(masterName))
                {
                    errors.Add($"{mkey}:Name = {masterName} is invalid: master names must be unique across shards.");
                }

                if (string.IsNullOrWhiteSpace(m.User))
                {
                    errors.Add($"{mkey}:User is missing: the probe needs a user (with the PROCESS and REPLICATION CLIENT privileges).");
                }

                if (m.Socket is null && string.IsNullOrWhiteSpace(m.Host))
                {
                    errors.Add($"{mkey}:Host is missing: give a host (and port) or a socket.");
                }

                if (m.Port is < 1 or > 65535)
                {
                    errors.Add($"{mkey}:Port = {m.Port} is invalid: it must be between 1 and 65535.");
                }

                var password = m.Password;
                if (m.PasswordEnvironmentVariable is { Length: > 0 } variable)
                {
                    password = environment(variable);
                    if (password is null)
                    {
                        errors.Add($"{mkey}:PasswordEnvironmentVariable = {variable} is invalid: the environment variable {variable} is not set.");
                    }
                }

                endpoints.Add(new MySqlEndpoint(name, masterName, m.Host, m.Port, m.User, password, m.Socket, options.ProbeTimeout));
            }

            var overrides = shard.Thresholds;
            var thresholds = new ResolvedThresholds(
                Pick(errors, $"{key}:Thresholds:ConnectionsRatio", overrides?.ConnectionsRatio, defaults.ConnectionsRatio, 1.0),
                Pick(errors, $"{key}:Thresholds:ThreadsRunning", overrides?.ThreadsRunning, defaults.ThreadsRunning, null),
                Pick(errors, $"{key}:Thresholds:ReplicationLagSeconds", overrides?.ReplicationLagSeconds, defaults.ReplicationLagSeconds, null));
            var hold = shard.HoldTime ?? options.HoldTime;
            if (hold < TimeSpan.Zero)
            {
                errors.Add($"{key}:HoldTime = {hold} is invalid: it must not be negative.");
            }

            shards[name] = new ShardSettings(name, endpoints, thresholds, hold, shard.WhenDegraded ?? options.WhenDegraded);
        }

        if (errors.Count > 0)
        {
            return (null, errors);
        }

        return (new GateSettings(
            options.ProbeInterval,
            options.RecoveryProbeInterval < options.ProbeInterval ? options.RecoveryProbeInterval : options.ProbeInterval,
            options.ProbeTimeout,
            options.LeaderLease,
            options.StaleAfter,
            parking.Deadline,
            new RampSettings(ramp.InitialRate, ramp.DoublingInterval, ramp.Duration),
            shards), errors);
    }

    private static Mark Pick(List<string> errors, string key, Watermark? own, Watermark fallback, double? max)
    {
        if (own is null)
        {
            return new Mark(fallback.High, fallback.Low);
        }

        CheckWatermark(errors, key, own, max);
        return new Mark(own.High, own.Low);
    }

    private static void CheckWatermark(List<string> errors, string key, Watermark? mark, double? max)
    {
        if (mark is null)
        {
            errors.Add($"{key} is missing: give High and Low.");
            return;
        }

        var value = string.Create(CultureInfo.InvariantCulture, $"High {mark.High}, Low {mark.Low}");
        if (mark.Low < 0 || mark.High <= 0)
        {
            errors.Add($"{key} = {value} is invalid: both must be positive.");
        }
        else if (mark.Low >= mark.High)
        {
            errors.Add($"{key} = {value} is invalid: the low-water mark must be below the high-water mark.");
        }
        else if (max is { } m && mark.High > m)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{key} = {value} is invalid: High must not exceed {m}."));
        }
    }
}

/// <summary>One shard's resolved settings.</summary>
internal sealed record ShardSettings(string Name, IReadOnlyList<MySqlEndpoint> Masters, ResolvedThresholds Thresholds, TimeSpan HoldTime, DegradedPolicy WhenDegraded);

/// <summary>A shard's marks for each signal.</summary>
internal sealed record ResolvedThresholds(Mark ConnectionsRatio, Mark ThreadsRunning, Mark ReplicationLagSeconds);

/// <summary>High- and low-water marks of one signal.</summary>
internal readonly record struct Mark(double High, double Low);

/// <summary>Resolved <see cref="RampOptions"/>.</summary>
internal sealed record RampSettings(double InitialRate, TimeSpan DoublingInterval, TimeSpan Duration)
{
    /// <summary>
    /// How many jobs the ramp allows to have been released in all, <paramref name="sinceReopened"/> after reopening:
    /// the first one at once, then the integral of a rate that starts at <see cref="InitialRate"/> and doubles every
    /// <see cref="DoublingInterval"/>. Null once the ramp is over (no limit).
    /// </summary>
    public double? AllowedBy(TimeSpan sinceReopened)
    {
        if (sinceReopened >= Duration)
        {
            return null;
        }

        if (sinceReopened <= TimeSpan.Zero)
        {
            return 1;
        }

        var doubling = DoublingInterval.TotalSeconds;
        return 1 + InitialRate * doubling / Math.Log(2) * (Math.Pow(2, sinceReopened.TotalSeconds / doubling) - 1);
    }

    /// <summary>How long from <paramref name="sinceReopened"/> until the ramp allows <paramref name="jobs"/> in all (zero if it does already or the ramp is over).</summary>
    public TimeSpan UntilAllowed(TimeSpan sinceReopened, double jobs)
    {
        if (AllowedBy(sinceReopened) is not { } allowed || allowed >= jobs)
        {
            return TimeSpan.Zero;
        }

        // The inverse of AllowedBy; past Duration nothing is held back.
        var doubling = DoublingInterval.TotalSeconds;
        var at = TimeSpan.FromSeconds(doubling * Math.Log2(1 + ((jobs - 1) * Math.Log(2) / (InitialRate * doubling))));
        var wait = (at < Duration ? at : Duration) - sinceReopened;
        return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
    }
}
