namespace OfflineTasks.Hangfire;

/// <summary>
/// A job was enqueued for a shard the gate does not know (not under <c>OfflineTasks:Gate:Shards</c>). Thrown by the
/// client while the job is created, so nothing is stored; Hangfire's client wraps it in a
/// <c>BackgroundJobClientException</c>.
/// </summary>
public sealed class UnknownShardException : Exception
{
    /// <summary>Creates the exception for <paramref name="shard"/>; <paramref name="known"/> are the configured shards.</summary>
    public UnknownShardException(string shard, string job, IEnumerable<string> known)
        : base($"Unknown shard '{shard}' for job {job}: it is not configured under OfflineTasks:Gate:Shards (configured shards: {Known(known)}).")
    {
        Shard = shard;
    }

    /// <summary>Creates the exception.</summary>
    public UnknownShardException()
        : this("the shard is not configured")
    {
    }

    /// <summary>Creates the exception.</summary>
    public UnknownShardException(string message)
        : base(message)
    {
        Shard = "";
    }

    /// <summary>Creates the exception.</summary>
    public UnknownShardException(string message, Exception innerException)
        : base(message, innerException)
    {
        Shard = "";
    }

    /// <summary>The shard's name as the job gave it.</summary>
    public string Shard { get; }

    private static string Known(IEnumerable<string> known)
    {
        var list = string.Join(", ", known.Order(StringComparer.Ordinal));
        return list.Length == 0 ? "none" : list;
    }
}
