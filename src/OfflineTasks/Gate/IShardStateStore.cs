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
    Task<bool> WriteStatesAsync(string role, Guid holder, TimeSpan lease, IReadOnlyList<ShardStateWrite> states, IReadOnlyList<ShardEventWrite> events,
        CancellationToken cancellationToken);

    /// <summary>
    /// Tells every process on <see cref="ShardStateChannel"/>, at once and before the round is written, that these
    /// shards are closing (<see cref="ShardClosing"/>), if <paramref name="holder"/> still holds <paramref name="role"/>.
    /// </summary>
    Task AnnounceClosingAsync(string role, Guid holder, IReadOnlyList<ShardClosing> closing, CancellationToken cancellationToken);

    /// <summary>Clears the operators' switches whose time is up at <paramref name="now"/>, then returns the rest, by shard.</summary>
    Task<IReadOnlyDictionary<string, ShardSwitch>> ReadSwitchesAsync(DateTimeOffset now, CancellationToken cancellationToken);
}

/// <summary>
/// A shard about to be written as closed (or light-only): announced to every process ahead of the write, so that no
/// process starts one of its jobs once the closure is on record.
/// </summary>
internal sealed record ShardClosing(string Shard, ShardMode Mode, string ReasonKind, string Reason)
{
    private const string Prefix = "closing\t";
    private const int MaxReason = 2000;

    /// <summary>The notification payload: <c>closing, shard, mode, kind, reason</c>, tab-separated (tabs and newlines in the reason become spaces).</summary>
    public string Payload()
    {
        var reason = Reason.Replace('\t', ' ').Replace('\n', ' ').Replace('\r', ' ');
        return $"{Prefix}{Shard}\t{ShardModeNames.Name(Mode)}\t{ReasonKind}\t{(reason.Length > MaxReason ? reason[..MaxReason] : reason)}";
    }

    /// <summary>Reads <see cref="Payload"/>; null for any other payload.</summary>
    public static ShardClosing? Parse(string? payload)
    {
        if (payload is null || !payload.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return null;
        }

        var parts = payload[Prefix.Length..].Split('\t', 4);
        return parts.Length == 4 ? new ShardClosing(parts[0], ShardModeNames.Parse(parts[1]), parts[2], parts[3]) : null;
    }
}

/// <summary>What a read of the shard states returns.</summary>
/// <param name="States">Each shard's state.</param>
/// <param name="Policies">Each shard's stored hysteresis state (JSON), for a new leader to carry on.</param>
internal sealed record ShardStateSnapshot(IReadOnlyList<ShardState> States, IReadOnlyDictionary<string, string> Policies)
{
    public static ShardStateSnapshot Empty { get; } = new([], new Dictionary<string, string>());
}

/// <summary>A change of a shard's mode and the event that reports it (stored with it, in the same transaction).</summary>
internal sealed record ShardEventWrite(ShardEvent Event, Alerts.Notice Notice);

/// <summary>One shard's state as the prober writes it.</summary>
internal sealed record ShardStateWrite(string Shard, ShardMode Mode, string Reason, DateTimeOffset ChangedAt, string SignalsJson, string PolicyJson);
