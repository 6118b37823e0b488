using OfflineTasks.Server;

namespace OfflineTasks.Tests.Server;

public class RetryBackoffTests
{
    [Fact]
    public void Delays_double_per_attempt_within_twenty_percent_jitter_and_stop_at_the_cap()
    {
        var random = new Random(7);
        var baseDelay = TimeSpan.FromSeconds(15);
        var max = TimeSpan.FromHours(4);
        for (var attempt = 1; attempt <= 12; attempt++)
        {
            var nominal = Math.Min(15 * Math.Pow(2, attempt - 1), max.TotalSeconds);
            var delay = RetryBackoff.Delay(attempt, baseDelay, max, random).TotalSeconds;
            Assert.InRange(delay, nominal * 0.8, nominal * 1.2);
        }
    }

    [Fact]
    public void Ten_default_attempts_span_hours_like_hangfire()
    {
        var total = Enumerable.Range(1, 9).Sum(a => RetryBackoff.Delay(a, TimeSpan.FromSeconds(15), TimeSpan.FromHours(4), new Random(1)).TotalHours);
        Assert.InRange(total, 1.5, 2.8);
    }
}
