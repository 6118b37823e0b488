using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OfflineTasks.Gate;

namespace OfflineTasks.Tests.Gate;

public sealed class GateSettingsTests
{
    private static GateOptions Valid() => new()
    {
        Shards = new Dictionary<string, ShardOptions>
        {
            ["users-1"] = new()
            {
                Masters = [new MasterOptions { Port = 3306, User = "probe" }, new MasterOptions { Port = 3307, User = "probe", PasswordEnvironmentVariable = "TEST_PROBE_PASSWORD" }],
                Thresholds = new ShardThresholdOverrides { ThreadsRunning = new Watermark { High = 100, Low = 50 } },
            },
        },
    };

    private static (GateSettings? Settings, IReadOnlyList<string> Errors) Resolve(GateOptions options) =>
        GateSettings.Resolve(options, name => name == "TEST_PROBE_PASSWORD" ? "secret" : null);

    [Fact]
    public void Resolves_defaults_overrides_master_names_and_passwords_from_the_environment()
    {
        var (settings, errors) = Resolve(Valid());

        Assert.Empty(errors);
        var shard = settings!.Shards["users-1"];
        Assert.Equal(["users-1a", "users-1b"], shard.Masters.Select(m => m.Name));
        Assert.Equal("secret", shard.Masters[1].Password);
        Assert.Equal(new Mark(100, 50), shard.Thresholds.ThreadsRunning);
        Assert.Equal(new Mark(0.80, 0.60), shard.Thresholds.ConnectionsRatio);
        Assert.Equal(TimeSpan.FromSeconds(5), shard.HoldTime);
        Assert.DoesNotContain("secret", shard.Masters[1].ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Rejects_low_water_at_or_above_high_water_naming_the_key_and_values()
    {
        var options = Valid();
        options.Shards["users-1"].Thresholds!.ThreadsRunning = new Watermark { High = 20, Low = 20 };
        options.Thresholds.ConnectionsRatio = new Watermark { High = 0.5, Low = 0.7 };

        var (_, errors) = Resolve(options);

        Assert.Contains("OfflineTasks:Gate:Shards:users-1:Thresholds:ThreadsRunning = High 20, Low 20 is invalid: the low-water mark must be below the high-water mark.", errors);
        Assert.Contains("OfflineTasks:Gate:Thresholds:ConnectionsRatio = High 0.5, Low 0.7 is invalid: the low-water mark must be below the high-water mark.", errors);
    }

    [Fact]
    public void Rejects_a_shard_without_two_masters_a_missing_password_variable_and_non_positive_intervals()
    {
        var options = Valid();
        options.Shards["orders-1"] = new ShardOptions { Masters = [new MasterOptions { User = "probe" }] };
        options.Shards["users-1"].Masters[1].PasswordEnvironmentVariable = "NOT_SET_ANYWHERE";
        options.ProbeInterval = TimeSpan.Zero;

        var (settings, errors) = Resolve(options);

        Assert.Null(settings);
        Assert.Contains("OfflineTasks:Gate:Shards:orders-1:Masters has 1 masters: a shard is a master-master pair and needs exactly 2.", errors);
        Assert.Contains("OfflineTasks:Gate:Shards:users-1:Masters:1:PasswordEnvironmentVariable = NOT_SET_ANYWHERE is invalid: the environment variable NOT_SET_ANYWHERE is not set.", errors);
        Assert.Contains(errors, e => e.StartsWith("OfflineTasks:Gate:ProbeInterval = 00:00:00 is invalid", StringComparison.Ordinal));
    }

    [Fact]
    public void Rejects_a_ramp_or_parking_deadline_out_of_range_naming_the_key_and_value()
    {
        var options = Valid();
        options.Ramp.InitialRate = 0;
        options.Parking.Deadline = TimeSpan.Zero;

        var (settings, errors) = Resolve(options);

        Assert.Null(settings);
        Assert.Contains("OfflineTasks:Gate:Ramp:InitialRate = 0 is invalid: it must be between 0.1 and 100000 (jobs per second).", errors);
        Assert.Contains("OfflineTasks:Gate:Parking:Deadline = 00:00:00 is invalid: it must be a positive duration (e.g. \"00:00:01\").", errors);
    }

    [Fact]
    public void The_ramp_allows_its_initial_rate_doubling_every_interval_and_nothing_holds_back_after_its_duration()
    {
        var ramp = new RampSettings(10, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(10));

        Assert.Equal(1, ramp.AllowedBy(TimeSpan.Zero)); // the first job at once
        Assert.Equal(1 + (10 * 2 / Math.Log(2) * (Math.Sqrt(2) - 1)), ramp.AllowedBy(TimeSpan.FromSeconds(1))!.Value, 6);
        // The rate doubles: the jobs allowed in the third second are twice those of the first.
        var first = ramp.AllowedBy(TimeSpan.FromSeconds(1))!.Value - 1;
        var third = ramp.AllowedBy(TimeSpan.FromSeconds(3))!.Value - ramp.AllowedBy(TimeSpan.FromSeconds(2))!.Value;
        Assert.Equal(2 * first, third, 6);
        Assert.Null(ramp.AllowedBy(TimeSpan.FromSeconds(10)));
        Assert.Null(new RampSettings(10, TimeSpan.FromSeconds(2), TimeSpan.Zero).AllowedBy(TimeSpan.Zero));
    }

    [Fact]
    public void The_ramp_says_how_long_until_it_allows_a_number_of_jobs()
    {
        var ramp = new RampSettings(10, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(10));

        var wait = ramp.UntilAllowed(TimeSpan.FromSeconds(1), 40);
        Assert.Equal(40, ramp.AllowedBy(TimeSpan.FromSeconds(1) + wait)!.Value, 3);
        Assert.Equal(TimeSpan.Zero, ramp.UntilAllowed(TimeSpan.FromSeconds(1), 5));
        // Past the ramp's duration nothing is held back: the wait ends with it.
        Assert.Equal(TimeSpan.FromSeconds(9), ramp.UntilAllowed(TimeSpan.FromSeconds(1), 1_000_000));
        Assert.Equal(TimeSpan.Zero, ramp.UntilAllowed(TimeSpan.FromSeconds(12), 1_000_000));
    }

    [Fact]
    public void A_valid_reload_takes_effect_and_an_invalid_one_keeps_the_previous_settings()
    {
        var file = Path.Combine(Path.GetTempPath(), $"gate-{Guid.NewGuid():N}.json");
        try
        {
            File.WriteAllText(file, Json(holdSeconds: 5, low: 20));
            var configuration = new ConfigurationBuilder().AddJsonFile(file, optional: false, reloadOnChange: false).Build();
            var options = new GateOptions();
            configuration.GetSection(GateOptions.SectionName).Bind(options);
            using var monitor = new GateSettingsMonitor(Options.Create(options), configuration, null, NullLogger<GateSettingsMonitor>.Instance, _ => null);
            Assert.Equal(TimeSpan.FromSeconds(5), monitor.Current.Shards["users-1"].HoldTime);

            File.WriteAllText(file, Json(holdSeconds: 9, low: 20));
            configuration.Reload();
            Assert.Equal(TimeSpan.FromSeconds(9), monitor.Current.Shards["users-1"].HoldTime);

            File.WriteAllText(file, Json(holdSeconds: 2, low: 50));
            configuration.Reload();
            Assert.Equal(TimeSpan.FromSeconds(9), monitor.Current.Shards["users-1"].HoldTime);
            var errors = monitor.Reload();
            Assert.Contains(errors, e => e.Contains("ThreadsRunning = High 40, Low 50 is invalid", StringComparison.Ordinal));
            Assert.Equal(TimeSpan.FromSeconds(9), monitor.Current.Shards["users-1"].HoldTime);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static string Json(int holdSeconds, int low) => $$"""
        { "OfflineTasks": { "Gate": {
            "HoldTime": "00:00:0{{holdSeconds}}",
            "Thresholds": { "ThreadsRunning": { "High": 40, "Low": {{low}} } },
            "Shards": { "users-1": { "Masters": [ { "Port": 3306, "User": "probe" }, { "Port": 3307, "User": "probe" } ] } }
        } } }
        """;
}
