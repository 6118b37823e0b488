using Microsoft.Extensions.Options;
using OfflineTasks.Client;

namespace OfflineTasks.Server;

/// <summary>Checks <see cref="JobServerOptions"/> at start; each failure names the configuration key and the bad value.</summary>
public sealed class JobServerOptionsValidator : IValidateOptions<JobServerOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, JobServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        const string s = JobServerOptions.SectionName;
        var failures = new List<string>();

        void Range(string key, int value, int min, int max)
        {
            if (value < min || value > max)
            {
                failures.Add($"{s}:{key} = {value} is invalid: it must be between {min} and {max}.");
            }
        }

        void Positive(string key, TimeSpan value)
        {
            if (value <= TimeSpan.Zero)
            {
                failures.Add($"{s}:{key} = {value} is invalid: it must be a positive duration (e.g. \"00:00:05\").");
            }
        }

        Range(nameof(options.WorkerCount), options.WorkerCount, 1, 1024);
        Range(nameof(options.PruneBatchSize), options.PruneBatchSize, 1, 100_000);
        Positive(nameof(options.PollInterval), options.PollInterval);
        Positive(nameof(options.HeartbeatInterval), options.HeartbeatInterval);
        Positive(nameof(options.LeaseDuration), options.LeaseDuration);
        Positive(nameof(options.SchedulerInterval), options.SchedulerInterval);
        Positive(nameof(options.RetryBaseDelay), options.RetryBaseDelay);
        Positive(nameof(options.RetryMaxDelay), options.RetryMaxDelay);
        Positive(nameof(options.RetentionPeriod), options.RetentionPeriod);
        Positive(nameof(options.PruneInterval), options.PruneInterval);
        if (options.ShutdownTimeout < TimeSpan.Zero)
        {
            failures.Add($"{s}:{nameof(options.ShutdownTimeout)} = {options.ShutdownTimeout} is invalid: it must not be negative.");
        }

        if (options.HeartbeatInterval > TimeSpan.Zero && options.LeaseDuration < options.HeartbeatInterval * 2)
        {
            failures.Add($"{s}:{nameof(options.LeaseDuration)} = {options.LeaseDuration} is invalid: it must be at least twice {s}:{nameof(options.HeartbeatInterval)} ({options.HeartbeatInterval}), or one late heartbeat loses every job.");
        }

        if (options.RetryMaxDelay < options.RetryBaseDelay)
        {
            failures.Add($"{s}:{nameof(options.RetryMaxDelay)} = {options.RetryMaxDelay} is invalid: it must not be below {s}:{nameof(options.RetryBaseDelay)} ({options.RetryBaseDelay}).");
        }

        for (var i = 0; i < options.Queues.Count; i++)
        {
            if (JobOptionsValidator.QueueNameError(options.Queues[i], $"{s}:Queues:{i} =") is { } error)
            {
                failures.Add(error);
            }
        }

        if (options.Queues.Distinct(StringComparer.Ordinal).Count() != options.Queues.Count)
        {
            failures.Add($"{s}:Queues = [{string.Join(", ", options.Queues)}] is invalid: a queue is listed twice.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
