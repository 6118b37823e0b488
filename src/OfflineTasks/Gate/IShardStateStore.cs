namespace OfflineTasks.Gate;

/// <summary>Fleet-wide roles held by lease (the prober, the telemetry sampler): one holder at a time.</summary>
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

    /// <summary>Every stored shard state, with its hysteresis state and the number of live worker servers.</summary>
    Task<ShardStateSnapshot> ReadStatesAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Writes one probe round (states, removed shards, mode changes) and renews the role, in one transaction, only if
    /// <paramref name="holder"/> still holds <paramref name="role"/>. Announces the change when <paramref name="events"/>
    /// is not empty or <paramref name="announce"/> is set. Returns false when the role was lost (nothing written).
    /// </summary>
    Task<bool> WriteStatesAsync(string role, Guid holder, TimeSpan lease, IReadOnlyList<ShardStateWrite> states, IReadOnlyList<ShardEvent> events,
        bool announce, CancellationToken cancellationToken);
}

/// <summary>What a read of the shard states returns.</summary>
/// <param name="States">Each shard's state.</param>
/// <param name="Policies">Each shard's stored hysteresis state (JSON), for a new leader to carry on.</param>
/// <param name="LiveServers">Worker servers with a live lease (the ramp's fleet-wide limit is split over them).</param>
internal sealed record ShardStateSnapshot(IReadOnlyList<ShardState> States, IReadOnlyDictionary<string, string> Policies, int LiveServers)
{
    public static ShardStateSnapshot Empty { get; } = new([], new Dictionary<string, string>(), 1);
}

/// <summary>One shard's state as the prober writes it.</summary>
internal sealed record ShardStateWrite(string Shard, ShardMode Mode, string Reason, DateTimeOffset ChangedAt, int? ConcurrencyLimit, string SignalsJson, string PolicyJson);
