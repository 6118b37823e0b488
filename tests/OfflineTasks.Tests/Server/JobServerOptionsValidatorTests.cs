using OfflineTasks.Server;

namespace OfflineTasks.Tests.Server;

public class JobServerOptionsValidatorTests
{
    private static IEnumerable<string> Failures(JobServerOptions options) =>
        new JobServerOptionsValidator().Validate(null, options).Failures ?? [];

    [Fact]
    public void Defaults_are_valid() => Assert.Empty(Failures(new JobServerOptions()));

    [Fact]
    public void Each_failure_names_the_key_and_the_value()
    {
        var failures = Failures(new JobServerOptions
        {
            WorkerCount = 0,
            PollInterval = TimeSpan.Zero,
            HeartbeatInterval = TimeSpan.FromSeconds(10),
            LeaseDuration = TimeSpan.FromSeconds(15),
            Queues = ["default", "Bad Queue"],
        }).ToList();

        Assert.Contains("OfflineTasks:Server:WorkerCount = 0 is invalid: it must be between 1 and 1024.", failures);
        Assert.Contains(failures, f => f.StartsWith("OfflineTasks:Server:PollInterval = 00:00:00 is invalid", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("OfflineTasks:Server:LeaseDuration = 00:00:15 is invalid: it must be at least twice", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("OfflineTasks:Server:Queues:1 = 'Bad Queue' is not a valid queue name", StringComparison.Ordinal));
    }
}
