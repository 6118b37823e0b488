using Hangfire;
using Hangfire.States;
using Microsoft.Extensions.DependencyInjection;
using OfflineTasks.Gate;
using OfflineTasks.Hangfire;
using OfflineTasks.Tests.Infrastructure;

namespace OfflineTasks.Tests.Hangfire;

/// <summary>A MariaDB master-master pair in containers of this class's own, shard "p"; tests close it with STOP SLAVE and reopen it with START SLAVE.</summary>
public sealed class ParkingPair() : ContainerPairFixture("park");

/// <summary>
/// Parking and release on Hangfire's real server, a real PostgreSQL and a real MariaDB pair: jobs of a closed shard
/// go to the Parked state (at creation, on enqueue, on their way to Processing, at a checkpoint), keep their retry
/// count, say why in their history, and are released to their queue when the shard reopens.
/// </summary>
public sealed class ParkingTests(ParkingPair fixture) : IClassFixture<ParkingPair>, IAsyncLifetime
{
    private const string Shard = "p";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(40);
    private readonly ContainerMariaDbPair _pair = fixture.Pair;
    private readonly TestSchema _schema = new();
    private readonly string _key = Guid.NewGuid().ToString("N");

    public Task InitializeAsync() => _schema.InitializeAsync();

    public async Task DisposeAsync()
    {
        await _pair.SqlAsync("a", "START SLAVE");
        await _schema.DisposeAsync();
    }

    private TestHost Host(int workers = 4, params (string Key, string Value)[] settings) =>
        new(_schema, workers, _pair.GateKeys(Shard).With(settings), s => s.AddTransient<CheckpointJob>());

    private static async Task WaitForGateAsync(TestHost host, bool open)
    {
        var gate = host.Services.GetRequiredService<IShardGate>();
        await Eventually.Until(() => Task.FromResult(gate.Check(Shard)), d => d.IsOpen == open, Timeout, $"shard {Shard} to be {(open ? "open" : "closed")}");
    }

    private async Task CloseAsync(TestHost host)
    {
        await _pair.SqlAsync("a", "STOP SLAVE");
        await WaitForGateAsync(host, open: false);
    }

    private async Task ReopenAsync(TestHost host)
    {
        await _pair.SqlAsync("a", "START SLAVE");
        await WaitForGateAsync(host, open: true);
    }

    private string Enqueue(int ms = 1) => _schema.Client.Enqueue(() => TestJobs.OnShardAsync(Shard, _key, ms));

    private int FetchesOf(IEnumerable<string> ids)
    {
        var set = ids.ToHashSet();
        return ProcessingRecorder.Instance.FetchedFrom(_schema.Storage).Count(set.Contains);
    }

    [Fact]
    public async Task Jobs_enqueued_while_their_shard_is_closed_are_parked_at_creation_never_fetched_and_released_when_it_reopens()
    {
        await using var host = Host();
        await host.StartAsync();
        await WaitForGateAsync(host, open: true);
        await CloseAsync(host);

        var ids = Enumerable.Range(0, 20).Select(_ => Enqueue()).ToList();

        Assert.All(ids, id => Assert.Equal(ParkedState.StateName, _schema.StateOf(id)));
        Assert.Equal(ids.ToHashSet(), _schema.SetMembers(ParkedState.SetKey(Shard, light: false)));
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        Assert.Equal(0, FetchesOf(ids));
        Assert.Equal(0, _schema.Monitoring.EnqueuedCount("default"));
        Assert.Empty(TestJobs.StartsOf(_key));
        var parked = _schema.HistoryOf(ids[0])[^1];
        Assert.Equal(ParkedState.StateName, parked.StateName);
        Assert.Matches(@"^shard p closed for \d+\.\d s: replication IO thread not running on park-a from park-b:3306.* \(sample age \d+\.\d s\)", parked.Reason);
        Assert.Equal("1", parked.Data["ParkCount"]);
        Assert.Equal("degraded", parked.Data["ReasonKind"]);
        Assert.Null(_schema.ParameterOf(ids[0], "RetryCount"));

        await ReopenAsync(host);
        await _schema.WaitForStateAsync(ids, SucceededState.StateName, Timeout);
        Assert.Equal(20, TestJobs.StartsOf(_key).Count);
        Assert.Equal(20, FetchesOf(ids));
        Assert.Empty(_schema.SetMembers(ParkedState.SetKey(Shard, light: false)));
        var states = _schema.HistoryOf(ids[0]).Select(h => h.StateName).ToList();
        Assert.Equal([ParkedState.StateName, EnqueuedState.StateName, ProcessingState.StateName, SucceededState.StateName], states.SkipWhile(s => s != ParkedState.StateName));
        Assert.Matches(@"^shard p reopened after \d+ s$", _schema.HistoryOf(ids[0]).Single(h => h.StateName == EnqueuedState.StateName && h.Reason is not null).Reason);
    }

    [Fact]
    public async Task A_job_whose_shard_closed_after_it_was_enqueued_is_parked_on_its_way_to_processing_and_never_performed()
    {
        await using var host = Host(workers: 1);
        await host.StartAsync();
        await WaitForGateAsync(host, open: true);

        // The only worker is busy, so the shard's jobs wait in the queue while it closes.
        var blocker = _schema.Client.Enqueue(() => TestJobs.SleepAsync(_key + "-blocker", 2500));
        await _schema.WaitForStateAsync([blocker], ProcessingState.StateName);
        var ids = Enumerable.Range(0, 3).Select(_ => Enqueue()).ToList();
        Assert.All(ids, id => Assert.Equal(EnqueuedState.StateName, _schema.StateOf(id)));
        await CloseAsync(host);

        await _schema.WaitForStateAsync(ids, ParkedState.StateName, Timeout);
        Assert.Empty(TestJobs.StartsOf(_key));
        Assert.Equal(3, FetchesOf(ids));
        Assert.Equal(0, _schema.Monitoring.EnqueuedCount("default") + _schema.Monitoring.FetchedCount("default"));
        var history = _schema.HistoryOf(ids[0]);
        Assert.Equal(ParkedState.StateName, history[^1].StateName);
        Assert.Contains("replication IO thread not running on park-a", history[^1].Reason, StringComparison.Ordinal);
        Assert.Equal("default", history[^1].Data["Queue"]);
        Assert.Null(_schema.ParameterOf(ids[0], "RetryCount"));

        await ReopenAsync(host);
        await _schema.WaitForStateAsync(ids, SucceededState.StateName, Timeout);
        Assert.Equal(3, TestJobs.StartsOf(_key).Count);
    }

    [Fact]
    public async Task A_released_job_goes_back_to_the_queue_it_was_enqueued_to()
    {
        await using var host = new TestHost(_schema, 2, _pair.GateKeys(Shard), queues: ["critical", "default"]);
        await host.StartAsync();
        await WaitForGateAsync(host, open: true);
        await CloseAsync(host);

        var id = _schema.Client.Create(() => TestJobs.OnShardAsync(Shard, _key, 1), new EnqueuedState("critical"));
        Assert.Equal(ParkedState.StateName, _schema.StateOf(id));
        Assert.Contains("critical:" + id, _schema.SetMembers(ParkedState.SetKey(Shard, light: false)));

        await ReopenAsync(host);
        await _schema.WaitForStateAsync([id], SucceededState.StateName, Timeout);
        Assert.Equal("critical", _schema.HistoryOf(id).Last(h => h.StateName == EnqueuedState.StateName).Data["Queue"]);
    }

    [Fact]
    public async Task Release_moves_no_more_jobs_in_the_first_second_than_the_ramp_allows()
    {
        await using var host = Host(4, ("OfflineTasks:Gate:Ramp:InitialRate", "5"), ("OfflineTasks:Gate:Ramp:DoublingInterval", "00:00:01"),
            ("OfflineTasks:Gate:Ramp:Duration", "00:00:04"));
        await host.StartAsync();
        await WaitForGateAsync(host, open: true);
        await CloseAsync(host);
        var ids = Enumerable.Range(0, 80).Select(_ => Enqueue()).ToList();

        await ReopenAsync(host);
        await _schema.WaitForStateAsync(ids, SucceededState.StateName, Timeout);

        var opened = (await _schema.Store.GetShardEventsAsync(Shard, 1)).Single().At.UtcDateTime;
        var released = ids.Select(id => _schema.HistoryOf(id).First(h => h.StateName == EnqueuedState.StateName && h.Reason is not null).CreatedAt).ToList();
        var allowed = new RampSettings(5, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(4)).AllowedBy(TimeSpan.FromSeconds(1))!.Value;
        var firstSecond = released.Count(at => at < opened.AddSeconds(1));
        Assert.True(firstSecond <= Math.Ceiling(allowed) + 1, $"{firstSecond} jobs released in the first second after the reopening; the ramp allows {allowed:0.0}");
        Assert.True(released.Max() >= opened.AddSeconds(2), "the whole backlog went out at once");
    }

    [Fact]
    public async Task A_shard_that_closes_again_mid_release_stops_the_release()
    {
        await using var host = Host(4, ("OfflineTasks:Gate:Ramp:InitialRate", "5"), ("OfflineTasks:Gate:Ramp:DoublingInterval", "00:00:30"),
            ("OfflineTasks:Gate:Ramp:Duration", "00:01:00"));
        await host.StartAsync();
        await WaitForGateAsync(host, open: true);
        await CloseAsync(host);
        var ids = Enumerable.Range(0, 100).Select(_ => Enqueue()).ToList();
        var key = ParkedState.SetKey(Shard, light: false);

        await ReopenAsync(host);
        await Eventually.Until(() => Task.FromResult(_schema.SetMembers(key).Count), n => n <= 95, Timeout, "some jobs to be released");
        await CloseAsync(host);
        await Task.Delay(TimeSpan.FromSeconds(0.5));
        var left = _schema.SetMembers(key).Count;
        await Task.Delay(TimeSpan.FromSeconds(2));

        Assert.Equal(left, _schema.SetMembers(key).Count);
        // Jobs released but not yet run when it closed again are parked again as they are fetched: back in the set.
        Assert.InRange(left, 50, 100);
        await ReopenAsync(host);
    }

    [Fact]
    public async Task A_long_job_that_calls_the_checkpoint_is_parked_when_its_shard_closes_and_completes_after_the_reopen_without_a_retry()
    {
        await using var host = Host(2);
        await host.StartAsync();
        await WaitForGateAsync(host, open: true);
        var id = _schema.Client.Enqueue<CheckpointJob>(j => j.RunAsync(Shard, _key, 40, 100));
        await Eventually.Until(() => Task.FromResult(TestJobs.RunsOf(_key).Count(r => r.What == "chunk")), n => n >= 3, Timeout, "the job to run a few chunks");

        await CloseAsync(host);
        await _schema.WaitForStateAsync([id], ParkedState.StateName, Timeout);
        var parked = _schema.HistoryOf(id)[^1];
        Assert.StartsWith("stopped at a checkpoint: shard p closed for ", parked.Reason, StringComparison.Ordinal);
        // As with Hangfire's own retries, the failure the election turned into another state stays in the history, here
        // followed by Parked: the job was never in the Failed state, and no retry was scheduled.
        var history = _schema.HistoryOf(id);
        Assert.Equal(["Failed", ParkedState.StateName], history.TakeLast(2).Select(h => h.StateName));
        Assert.Equal(typeof(ShardClosedException).FullName, history[^2].Data["ExceptionType"]);
        Assert.DoesNotContain(history, h => h.StateName == "Scheduled");
        Assert.Null(_schema.ParameterOf(id, "RetryCount"));
        var chunksBefore = TestJobs.RunsOf(_key).Count(r => r.What == "chunk");
        Assert.InRange(chunksBefore, 3, 39);

        await ReopenAsync(host);
        await _schema.WaitForStateAsync([id], SucceededState.StateName, Timeout);
        Assert.Equal(2, TestJobs.StartsOf(_key).Count);
        Assert.Single(TestJobs.RunsOf(_key), r => r.What == "end");
        Assert.Null(_schema.ParameterOf(id, "RetryCount"));
        Assert.Equal(0, _schema.Monitoring.FailedCount());
    }

    [Fact]
    public async Task A_shard_given_at_enqueue_gates_a_job_without_the_attribute_and_jobs_without_a_shard_run_meanwhile()
    {
        await using var host = Host();
        await host.StartAsync();
        await WaitForGateAsync(host, open: true);
        await CloseAsync(host);

        var given = _schema.Client.EnqueueForShard(Shard, () => TestJobs.SleepAsync(_key, 1));
        var ungated = _schema.Client.Enqueue(() => TestJobs.SleepAsync(_key + "-free", 1));

        Assert.Equal(ParkedState.StateName, _schema.StateOf(given));
        await _schema.WaitForStateAsync([ungated], SucceededState.StateName, Timeout);
        await ReopenAsync(host);
        await _schema.WaitForStateAsync([given], SucceededState.StateName, Timeout);
    }

    [Fact]
    public async Task A_light_job_runs_on_a_degraded_pair_that_allows_it_while_the_others_wait_parked()
    {
        await using var host = Host(4, ("OfflineTasks:Gate:Shards:p:WhenDegraded", "OpenForLightJobs"));
        await host.StartAsync();
        await WaitForGateAsync(host, open: true);
        await _pair.SqlAsync("a", "STOP SLAVE");
        var gate = host.Services.GetRequiredService<IShardGate>();
        var lightOnly = await Eventually.Until(() => Task.FromResult(gate.Check(Shard)), d => d.Mode == ShardMode.LightOnly, Timeout, "the shard to be open for light jobs only");
        Assert.Contains("replication IO thread not running on park-a", lightOnly.Reason, StringComparison.Ordinal);

        var heavy = Enqueue();
        var light = _schema.Client.Enqueue(() => TestJobs.LightOnShardAsync(Shard, _key + "-light"));

        await _schema.WaitForStateAsync([light], SucceededState.StateName, Timeout);
        Assert.Equal(ParkedState.StateName, _schema.StateOf(heavy));
        Assert.Contains("open for light jobs only", _schema.HistoryOf(heavy)[^1].Reason, StringComparison.Ordinal);
        await ReopenAsync(host);
        await _schema.WaitForStateAsync([heavy], SucceededState.StateName, Timeout);
    }

    [Fact]
    public async Task A_job_for_a_shard_the_gate_does_not_know_is_rejected_at_enqueue_naming_it_and_nothing_is_stored()
    {
        await using var host = Host();
        await host.StartAsync();
        var jobsBefore = await _schema.ScalarAsync<long>("SELECT count(*) FROM {hf}.job");

        var byAttribute = Assert.Throws<BackgroundJobClientException>(() => _schema.Client.Enqueue(() => TestJobs.OnShardAsync("users-9", _key, 1)));
        var given = Assert.Throws<BackgroundJobClientException>(() => _schema.Client.EnqueueForShard("users-8", () => TestJobs.SleepAsync(_key, 1)));
        var format = Assert.Throws<BackgroundJobClientException>(() => _schema.Client.Enqueue(() => TestJobs.BadFormat(7)));

        var unknown = Assert.IsType<UnknownShardException>(byAttribute.InnerException);
        Assert.Equal("users-9", unknown.Shard);
        Assert.Equal("Unknown shard 'users-9' for job TestJobs.OnShardAsync: it is not configured under OfflineTasks:Gate:Shards (configured shards: p).", unknown.Message);
        Assert.Contains("Unknown shard 'users-8'", given.InnerException!.Message, StringComparison.Ordinal);
        Assert.Contains("[Shard(\"users-{1}\")] on TestJobs.BadFormat cannot be applied to its 1 argument(s)", format.InnerException!.Message, StringComparison.Ordinal);
        Assert.Equal(jobsBefore, await _schema.ScalarAsync<long>("SELECT count(*) FROM {hf}.job"));
    }

    [Fact]
    public async Task A_shard_given_at_enqueue_in_a_process_without_the_gate_is_refused_and_nothing_is_stored()
    {
        var jobsBefore = await _schema.ScalarAsync<long>("SELECT count(*) FROM {hf}.job");

        var e = Assert.Throws<InvalidOperationException>(() => _schema.Client.EnqueueForShard(Shard, () => TestJobs.SleepAsync(_key, 1)));

        Assert.StartsWith("Cannot enqueue for shard p: this process runs no OfflineTasks gate for the client's Hangfire storage", e.Message, StringComparison.Ordinal);
        Assert.Contains("services.AddOfflineTasks(configuration)", e.Message, StringComparison.Ordinal);
        Assert.Equal(jobsBefore, await _schema.ScalarAsync<long>("SELECT count(*) FROM {hf}.job"));
    }

    [Fact]
    public async Task A_stored_job_whose_type_is_gone_fails_with_Hangfire_s_own_reason_and_is_never_run()
    {
        await using var host = Host();
        await host.StartAsync();
        await WaitForGateAsync(host, open: true);
        await CloseAsync(host);
        var parked = Enqueue();
        var queued = _schema.Client.Create(() => TestJobs.SleepAsync(_key, 1), new ScheduledState(TimeSpan.FromSeconds(1)));
        await _schema.ExecuteAsync("UPDATE {hf}.job SET invocationdata = replace(invocationdata::text, 'TestJobs', 'GoneJobs')::jsonb WHERE id IN (" + parked + ", " + queued + ")");

        await ReopenAsync(host);
        await Eventually.Until(() => Task.FromResult(_schema.HistoryOf(parked)), h => h.Any(s => s.StateName == "Failed"), Timeout, "the parked job to fail");
        await Eventually.Until(() => Task.FromResult(_schema.HistoryOf(queued)), h => h.Any(s => s.StateName == "Failed"), Timeout, "the scheduled job to fail");

        Assert.Contains("Can not change the state to 'Enqueued': target method was not found.", _schema.HistoryOf(parked).Select(h => h.Reason));
        Assert.DoesNotContain(parked, _schema.SetMembers(ParkedState.SetKey(Shard, light: false)));
        Assert.Empty(TestJobs.StartsOf(_key));
    }

    [Fact]
    public async Task Past_the_deadline_a_parked_job_is_reported_in_its_history_and_stays_parked()
    {
        await using var host = Host(4, ("OfflineTasks:Gate:Parking:Deadline", "00:00:01"));
        await host.StartAsync();
        await WaitForGateAsync(host, open: true);
        await CloseAsync(host);
        var id = Enqueue();

        var history = await Eventually.Until(() => Task.FromResult(_schema.HistoryOf(id)),
            h => h[^1].Reason?.StartsWith("DEADLINE PASSED", StringComparison.Ordinal) == true, Timeout, "the deadline to be noted");
        Assert.Equal(ParkedState.StateName, history[^1].StateName);
        Assert.Equal("true", history[^1].Data["DeadlinePassed"]);
        Assert.Contains("it stays parked until shard p reopens", history[^1].Reason, StringComparison.Ordinal);
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal(history.Count, _schema.HistoryOf(id).Count); // reported once

        await ReopenAsync(host);
        await _schema.WaitForStateAsync([id], SucceededState.StateName, Timeout);
    }

    [Fact]
    public async Task Operators_deleting_and_requeueing_parked_jobs_while_the_releaser_releases_them_never_run_a_deleted_job_or_a_job_twice()
    {
        await using var host = Host(8, ("OfflineTasks:Gate:Ramp:InitialRate", "100"), ("OfflineTasks:Gate:Ramp:DoublingInterval", "00:01:00"),
            ("OfflineTasks:Gate:Ramp:Duration", "00:01:00"));
        await host.StartAsync();
        await WaitForGateAsync(host, open: true);
        await CloseAsync(host);
        var ids = Enumerable.Range(0, 600).Select(_ => _schema.Client.Enqueue(() => TestJobs.OnShardNamedAsync(Shard, _key, null!))).ToList();
        var key = ParkedState.SetKey(Shard, light: false);
        Assert.Equal(600, _schema.SetMembers(key).Count);

        // Two operators keep taking one of the oldest parked jobs, the ones the releaser takes next, and change it if it
        // is still parked: one requeues one of the 3 oldest, one deletes one of the 10 oldest (it wins some races).
        // Meanwhile the shard has reopened and the releaser releases.
        var refused = 0;
        void Operate(Func<string, bool> change, int window, int seed)
        {
            var random = new Random(seed);
            var until = DateTime.UtcNow + Timeout;
            using var connection = (global::Hangfire.Storage.JobStorageConnection)_schema.Storage.GetConnection();
            while (DateTime.UtcNow < until && connection.GetFirstByLowestScoreFromSet(key, 0, double.MaxValue, window) is { Count: > 0 } oldest)
            {
                var (id, _) = ParkedState.ParseSetValue(oldest[random.Next(oldest.Count)]);
                try
                {
                    change(id);
                }
                catch (BackgroundJobClientException e) when (e.InnerException?.Message.Contains("was released from Parked", StringComparison.Ordinal) == true)
                {
                    Interlocked.Increment(ref refused);
                }
            }
        }

        // The operators start as the shard starts to reopen (its hold time runs), on threads of their own: on a loaded
        // machine, thread-pool tasks queued behind the releaser's batches once started only after every job was released.
        await _pair.SqlAsync("a", "START SLAVE");
        var operators = new[]
        {
            Task.Factory.StartNew(() => Operate(id => _schema.Client.ChangeState(id, new DeletedState(), ParkedState.StateName), 10, 1), TaskCreationOptions.LongRunning),
            Task.Factory.StartNew(() => Operate(id => _schema.Client.ChangeState(id, new EnqueuedState(), ParkedState.StateName), 3, 2), TaskCreationOptions.LongRunning),
        };
        await WaitForGateAsync(host, open: true);
        await Task.WhenAll(operators);

        await Eventually.Until(() => Task.FromResult(ids.Select(_schema.StateOf).ToList()),
            states => states.All(s => s == SucceededState.StateName || s == DeletedState.StateName), Timeout, "every job to be Succeeded or Deleted");
        await Task.Delay(TimeSpan.FromSeconds(1)); // a second run of a job would start within a queue poll
        var starts = TestJobs.RunsOf(_key).Select(r => r.What).ToList();
        Assert.Equal(starts.Count, starts.Distinct().Count()); // no job ran twice
        var deletedWhileParked = ids.Where(id =>
        {
            var history = _schema.HistoryOf(id).Select(h => h.StateName).ToList();
            var deleted = history.IndexOf(DeletedState.StateName);
            return deleted > 0 && history[deleted - 1] == ParkedState.StateName;
        }).ToList();
        Assert.NotEmpty(deletedWhileParked);
        Assert.All(deletedWhileParked, id =>
        {
            Assert.Equal(DeletedState.StateName, _schema.StateOf(id));
            Assert.DoesNotContain("start " + id, starts);
        });
        Assert.Empty(_schema.SetMembers(key));
        Assert.Empty(_schema.SetMembers(ParkedState.ChangingKey(Shard)));
        Console.WriteLine($"{deletedWhileParked.Count} jobs deleted while parked, {refused} changes refused as their job had just been released, {starts.Count} runs");
    }

    [Fact]
    public async Task An_operator_forcing_a_calm_shard_closed_parks_its_jobs_saying_who_and_why_and_clearing_the_switch_releases_them()
    {
        await using var host = Host();
        await host.StartAsync();
        await WaitForGateAsync(host, open: true);

        await _schema.Store.SetSwitchAsync(Shard, ShardMode.Closed, "schema change on p <b>now</b>", "alice", DateTimeOffset.UtcNow);
        await WaitForGateAsync(host, open: false);
        var decision = host.Services.GetRequiredService<IShardGate>().Check(Shard);
        Assert.Matches(@"^shard p closed for \d+\.\d s: forced closed by alice: schema change on p <b>now</b> \(measured: open\)$", decision.Reason);
        Assert.Equal("switch", decision.ReasonKind);
        var id = Enqueue();
        Assert.Equal(ParkedState.StateName, _schema.StateOf(id));
        Assert.Contains("forced closed by alice", _schema.HistoryOf(id)[^1].Reason, StringComparison.Ordinal);

        Assert.True(await _schema.Store.ClearSwitchAsync(Shard, "bob", "done", DateTimeOffset.UtcNow));
        await _schema.WaitForStateAsync([id], SucceededState.StateName, Timeout);
        var audit = await _schema.Store.GetSwitchAuditAsync(Shard);
        Assert.Equal(["cleared", "force_closed"], audit.Select(a => a.Action));
        Assert.Equal(["bob", "alice"], audit.Select(a => a.Actor));
        Assert.Empty(await _schema.Store.GetSwitchesAsync());
        Assert.False(await _schema.Store.ClearSwitchAsync(Shard, "bob", null, DateTimeOffset.UtcNow)); // nothing to clear: no entry
        Assert.Equal(2, (await _schema.Store.GetSwitchAuditAsync(Shard)).Count);
    }

    [Fact]
    public async Task Forcing_a_stressed_shard_open_runs_its_jobs_while_its_state_keeps_the_measured_reason_and_the_switch_expires_by_itself()
    {
        await using var host = Host();
        await host.StartAsync();
        await WaitForGateAsync(host, open: true);
        await CloseAsync(host);
        var parked = Enqueue();

        await _schema.Store.SetSwitchAsync(Shard, ShardMode.Open, "backfill must finish", "carol", DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddSeconds(4));
        await WaitForGateAsync(host, open: true);
        await _schema.WaitForStateAsync([parked, Enqueue()], SucceededState.StateName, Timeout);
        var state = (await _schema.Store.GetShardStatesAsync()).Single(s => s.Shard == Shard);
        Assert.Equal(ShardMode.Open, state.Mode);
        Assert.Matches(@"^forced open by carol until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC: backfill must finish \(measured: closed: replication IO thread not running on park-a", state.Reason);
        Assert.Contains("park-a", state.Signals, StringComparison.Ordinal); // the prober still measures

        // The switch expires: the gate's decision (still closed: replication is stopped) returns.
        await WaitForGateAsync(host, open: false);
        Assert.Matches(@"replication IO thread not running on park-a", host.Services.GetRequiredService<IShardGate>().Check(Shard).Reason);
        Assert.Equal(["expired", "force_open"], (await _schema.Store.GetSwitchAuditAsync(Shard)).Select(a => a.Action));
        Assert.Equal(ParkedState.StateName, _schema.StateOf(Enqueue()));
    }

    [Fact]
    public async Task A_switch_without_a_reason_or_with_an_expiry_in_the_past_is_refused_naming_what_is_wrong()
    {
        var now = DateTimeOffset.UtcNow;
        var noReason = await Assert.ThrowsAsync<ArgumentException>(() => _schema.Store.SetSwitchAsync(Shard, ShardMode.Closed, "  ", "alice", now));
        Assert.StartsWith("A switch on shard p needs a reason: say why it is forced closed.", noReason.Message, StringComparison.Ordinal);
        var past = await Assert.ThrowsAsync<ArgumentException>(() => _schema.Store.SetSwitchAsync(Shard, ShardMode.Open, "x", "alice", now, now.AddSeconds(-1)));
        Assert.Contains("which is not after now", past.Message, StringComparison.Ordinal);
        var light = await Assert.ThrowsAsync<ArgumentException>(() => _schema.Store.SetSwitchAsync(Shard, ShardMode.LightOnly, "x", "alice", now));
        Assert.StartsWith("A switch forces a shard closed or open, not light_only.", light.Message, StringComparison.Ordinal);
        Assert.Empty(await _schema.Store.GetSwitchesAsync());
        Assert.Empty(await _schema.Store.GetSwitchAuditAsync());
    }

    [Fact]
    public async Task A_switch_expires_exactly_at_its_time_on_the_clock_the_prober_passes()
    {
        var set = new DateTimeOffset(2026, 12, 2, 12, 0, 0, TimeSpan.Zero);
        await _schema.Store.SetSwitchAsync(Shard, ShardMode.Closed, "maintenance", "alice", set, set.AddMinutes(10));
        IShardStateStore store = _schema.Store;

        Assert.Equal("alice", (await store.ReadSwitchesAsync(set.AddMinutes(10).AddTicks(-1), default))[Shard].Actor);
        Assert.Empty(await store.ReadSwitchesAsync(set.AddMinutes(10), default));
        var expired = (await _schema.Store.GetSwitchAuditAsync(Shard))[0];
        Assert.Equal(("expired", "offlinetasks", "maintenance", set.AddMinutes(10)), (expired.Action, expired.Actor, expired.Reason, expired.At));
    }

    [Fact]
    public async Task A_releaser_killed_while_releasing_2000_parked_jobs_loses_none_and_every_job_runs_exactly_once()
    {
        await _schema.ExecuteAsync(OfflineTasks.TestWorker.RecordingJob.CreateTable(_schema.Name));
        var environment = _pair.GateKeys(Shard).ToDictionary(k => k.Key.Replace(":", "__", StringComparison.Ordinal), k => k.Value!);
        environment["OfflineTasks__Gate__ProbeInterval"] = "00:00:00.25";
        environment["OfflineTasks__Gate__HoldTime"] = "00:00:01";
        environment["OfflineTasks__Gate__LeaderLease"] = "00:00:02";
        environment["OfflineTasks__Gate__Ramp__Duration"] = "00:00:00";

        // The releaser runs jobs of no queue of this test, so killing it kills no running job: every run is counted once.
        using var releaser = await WorkerProcess.StartAsync(_schema, 1, environment, queues: "nothing");
        await Eventually.Until(() => _schema.ScalarAsync<string?>("SELECT (SELECT holder_name FROM {s}.leader WHERE role = 'releaser')"),
            h => h?.EndsWith($":{releaser.Pid}", StringComparison.Ordinal) == true, Timeout, "the first process to hold the releaser role");
        using var worker = await WorkerProcess.StartAsync(_schema, 8, environment);

        // This process only enqueues: its gate parks the jobs as they are created.
        await using var client = new TestHost(_schema, 1, _pair.GateKeys(Shard), queues: ["nothing"]);
        await client.StartAsync();
        await WaitForGateAsync(client, open: true);
        await CloseAsync(client);
        var ids = Enumerable.Range(0, 2000).Select(i => _schema.Client.Enqueue<OfflineTasks.TestWorker.RecordingJob>(j => j.OnShardAsync(Shard, i, 1, null!))).ToList();
        var key = ParkedState.SetKey(Shard, light: false);
        Assert.Equal(2000, _schema.SetMembers(key).Count);

        await _pair.SqlAsync("a", "START SLAVE");
        await Eventually.Until(() => Task.FromResult(_schema.SetMembers(key).Count), n => n <= 1700, Timeout, "the release to be under way");
        releaser.KillHard();
        var left = _schema.SetMembers(key).Count;
        Assert.True(left > 0, "the release was over before the releaser was killed");

        await _schema.WaitForStateAsync(ids, SucceededState.StateName, TimeSpan.FromSeconds(120));
        Assert.Empty(_schema.SetMembers(key));
        await using var command = _schema.DataSource.CreateCommand($"SELECT count(*), count(DISTINCT job_id) FROM {_schema.Name}.test_run");
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        Assert.Equal((2000L, 2000L), (reader.GetInt64(0), reader.GetInt64(1)));
    }
}
