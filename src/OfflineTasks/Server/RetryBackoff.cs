namespace OfflineTasks.Server;

/// <summary>Exponential backoff with jitter for failed attempts: base × 2^(attempt-1), capped, then ±20 %.</summary>
internal static class RetryBackoff
{
    public static TimeSpan Delay(int attempt, TimeSpan baseDelay, TimeSpan maxDelay, Random random)
    {
        var exponent = Math.Clamp(attempt - 1, 0, 30);
        var ticks = Math.Min(baseDelay.Ticks * Math.Pow(2, exponent), maxDelay.Ticks);
        var jitter = 1 + ((random.NextDouble() * 0.4) - 0.2);
        return TimeSpan.FromTicks((long)(ticks * jitter));
    }
}
