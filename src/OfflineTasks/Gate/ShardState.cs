namespace OfflineTasks.Gate;

/// <summary>A shard's gate state as the prober last wrote it (read through <c>OfflineTasksStore.GetShardStatesAsync</c>).</summary>
/// <param name="Shard">The shard's name.</param>
/// <param name="Mode">Open, closed, or open for light jobs only.</param>
/// <param name="Reason">Why the shard entered <paramref name="Mode"/>: signal, value, threshold, master and sample age.</param>
/// <param name="ChangedAt">When it entered <paramref name="Mode"/>.</param>
/// <param name="Holding">While not open: what still holds it (e.g. a signal between its marks); null otherwise.</param>
/// <param name="Signals">The latest sample of each master, as JSON (<c>{"users-1a": {"threads_connected": 12, ...}, ...}</c>).</param>
/// <param name="UpdatedAt">When the prober last wrote the row (database time).</param>
/// <param name="Age">How old the row was when read; a row older than <c>GateOptions.StaleAfter</c> counts as closed.</param>
/// <param name="ReasonKind">While not open, the kind of reason: <c>load</c> (a signal at high-water), <c>degraded</c> (the pair is not redundant), <c>unknown</c> (status unreadable) or <c>not_configured</c> (the shard was removed from the configuration); empty when open.</param>
public sealed record ShardState(
    string Shard,
    ShardMode Mode,
    string Reason,
    DateTimeOffset ChangedAt,
    string? Holding,
    string Signals,
    DateTimeOffset UpdatedAt,
    TimeSpan Age,
    string ReasonKind = "");

/// <summary>One change of a shard's mode, from the shard state log (<c>OfflineTasksStore.GetShardEventsAsync</c>).</summary>
/// <param name="Id">Increasing id.</param>
/// <param name="Shard">The shard.</param>
/// <param name="At">When (database time).</param>
/// <param name="From">The mode before; null for the first state of a shard.</param>
/// <param name="To">The mode after.</param>
/// <param name="Reason">Why: signal, value, threshold, master and sample age.</param>
public sealed record ShardEvent(long Id, string Shard, DateTimeOffset At, ShardMode? From, ShardMode To, string Reason);
