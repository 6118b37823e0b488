namespace OfflineTasks.Gate;

/// <summary>
/// An operator's switch on a shard: forced closed (no job of it starts, whatever its load) or forced open (its jobs
/// run, whatever the gate measures), with who set it, why, and until when. The prober keeps measuring and showing the
/// shard's true signals under a switch; when the switch is cleared or expires, the gate's own decision returns.
/// </summary>
/// <param name="Shard">The shard.</param>
/// <param name="Mode"><see cref="ShardMode.Closed"/> or <see cref="ShardMode.Open"/>.</param>
/// <param name="Reason">Why the operator set it (required).</param>
/// <param name="Actor">Who set it: the dashboard's authenticated user, or <c>local</c>.</param>
/// <param name="SetAt">When it was set.</param>
/// <param name="Until">When it clears itself; null: when an operator clears it.</param>
public sealed record ShardSwitch(string Shard, ShardMode Mode, string Reason, string Actor, DateTimeOffset SetAt, DateTimeOffset? Until)
{
    /// <summary>The reason kind of a shard under a switch.</summary>
    public const string Kind = "switch";

    /// <summary>The longest reason kept.</summary>
    public const int MaxReason = 500;

    /// <summary>Whether the switch is in force at <paramref name="now"/>.</summary>
    public bool InForce(DateTimeOffset now) => Until is not { } until || until > now;

    /// <summary>The state a forced shard is written with: the switch, then what the gate measures.</summary>
    internal string Describe(string measured) =>
        $"forced {(Mode == ShardMode.Open ? "open" : "closed")} by {Actor}{(Until is { } u ? $" until {u.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC" : "")}: {Reason} (measured: {measured})";
}

/// <summary>One entry of the switches' audit log: who, when, what, why, until.</summary>
/// <param name="Id">Increasing id.</param>
/// <param name="At">When.</param>
/// <param name="Shard">The shard.</param>
/// <param name="Action"><c>force_closed</c>, <c>force_open</c>, <c>cleared</c> or <c>expired</c>.</param>
/// <param name="Actor">Who (<c>offlinetasks</c> for an expiry).</param>
/// <param name="Reason">Why (the switch's reason for an expiry).</param>
/// <param name="Until">Until when the switch was set, for <c>force_*</c>.</param>
public sealed record SwitchChange(long Id, DateTimeOffset At, string Shard, string Action, string Actor, string? Reason, DateTimeOffset? Until);
