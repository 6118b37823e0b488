namespace OfflineTasks.Gate;

/// <summary>Fleet-wide roles held by lease (the prober, the releaser, the telemetry sampler): one holder at a time.</summary>
internal interface ILeadership
{
    /// <summary>Takes or renews <paramref name="role"/> for <paramref name="holder"/>. Null: someone else holds it; true: just taken over; false: renewed.</summary>
    Task<bool?> TryLeadAsync(string role, Guid holder, string holderName, TimeSpan lease, CancellationToken cancellationToken);

    /// <summary>Gives <paramref name="role"/> up, if <paramref name="holder"/> holds it.</summary>
    Task ResignAsync(string role, Guid holder, CancellationToken cancellationToken);
}

/// <summary>Where the prober shares shard states with every worker, and how it holds its fleet-wide role.</summary>
internal interface IShardStateStore : ILeadership
{
    /// <summary>The notification channel on which a changed shard state is announced.</summary>
    string ShardStateChannel { get; }

    /// <summary>Every stored shard state, with its hysteresis state.</summary>
    Task<ShardStateSnapshot> ReadStatesAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Writes one probe round (states and mode changes) and renews the role, in one transaction, only if
    /// <paramref name="holder"/> still holds <paramref name="role"/>. Announces the change on <see cref="ShardStateChannel"/>
    /// when <paramref name="events"/> is not empty. Returns false when the role was lost (nothing written).
    /// </summary>
    Task<bool> WriteStatesAsync(string role, Guid holder, TimeSpan lease, IReadOnlyList<ShardStateWrite> states, IReadOnlyList<ShardEvent> events,
        CancellationToken cancellationToken);
}

/// <summary>What a read of the shard states returns.</summary>
/// <param name="States">Each shard's state.</param>
/// <param name="Policies">Each shard's stored hysteresis state (JSON), for a new leader to carry on.</param>
internal sealed record ShardStateSnapshot(IReadOnlyList<ShardState> States, IReadOnlyDictionary<string, string> Policies)
{
    public static ShardStateSnapshot Empty { get; } = new([], new Dictionary<string, string>());
}

/// <summary>One shard's state as the prober writes it.</summary>
internal sealed record ShardStateWrite(string Shard, ShardMode Mode, string Reason, DateTimeOffset ChangedAt, string SignalsJson, string PolicyJson);
