using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace OfflineTasks.Internal;

/// <summary>
/// The retry pipeline of the background loops: a database call that fails (PostgreSQL restarting,
/// a dropped connection) is retried with exponential backoff and jitter, up to 10 s apart, until it succeeds
/// or the server stops. Each failure is logged once, with what was being done.
/// </summary>
internal static class Resilience
{
    public static ResiliencePipeline RetryForever(string what, TimeProvider time, ILogger logger) =>
        new ResiliencePipelineBuilder { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<Exception>(e => e is not OperationCanceledException),
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(100),
                MaxDelay = TimeSpan.FromSeconds(10),
                OnRetry = args =>
                {
                    logger.LogWarning("{What} failed (attempt {Attempt}), retrying in {Delay:0.0} s: {Error}",
                        what, args.AttemptNumber + 1, args.RetryDelay.TotalSeconds, args.Outcome.Exception?.Message);
                    return default;
                },
            })
            .Build();
}
