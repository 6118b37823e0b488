using System.Buffers;
using OfflineTasks.Jobs;

namespace OfflineTasks.Client;

/// <summary>Checks <see cref="JobOptions"/> at enqueue, so a bad value is rejected with its name rather than stored.</summary>
internal static class JobOptionsValidator
{
    private static readonly SearchValues<char> QueueChars = SearchValues.Create("abcdefghijklmnopqrstuvwxyz0123456789_-");

    public static JobOptions Validate(JobOptions options)
    {
        ValidateQueueName(options.Queue, nameof(JobOptions.Queue));

        if (options.ShardKey is { } shard && (shard.Length == 0 || shard.Length > 128 || string.IsNullOrWhiteSpace(shard)))
        {
            throw new ArgumentException($"JobOptions.ShardKey '{shard}' is invalid: it must be 1 to 128 characters and not blank (or null for an ungated job).", nameof(options));
        }

        if (options.MaxAttempts is < 1 or > 1000)
        {
            throw new ArgumentException($"JobOptions.MaxAttempts {options.MaxAttempts} is invalid: it must be between 1 and 1000.", nameof(options));
        }

        if (options.RunAt is not null && options.Delay is not null)
        {
            throw new ArgumentException("JobOptions.RunAt and JobOptions.Delay are both set; set at most one.", nameof(options));
        }

        if (options.Delay is { } delay && delay < TimeSpan.Zero)
        {
            throw new ArgumentException($"JobOptions.Delay {delay} is invalid: it must not be negative.", nameof(options));
        }

        return options;
    }

    /// <summary>Throws when <paramref name="queue"/> is not a valid queue name; <paramref name="what"/> names the setting in the message.</summary>
    public static void ValidateQueueName(string? queue, string what)
    {
        if (QueueNameError(queue, what) is { } error)
        {
            throw new ArgumentException(error, what);
        }
    }

    /// <summary>The error for an invalid queue name, or <c>null</c> when it is valid.</summary>
    public static string? QueueNameError(string? queue, string what) =>
        string.IsNullOrEmpty(queue) || queue.Length > 64 || queue.AsSpan().ContainsAnyExcept(QueueChars)
            ? $"{what} '{queue}' is not a valid queue name: use 1 to 64 lower-case letters, digits, '_' or '-'."
            : null;
}
