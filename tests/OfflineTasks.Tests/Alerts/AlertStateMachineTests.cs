using OfflineTasks.Alerts;
using OfflineTasks.Tests.Infrastructure;

namespace OfflineTasks.Tests.Alerts;

/// <summary>The high/low-water state machine under a fake clock.</summary>
public sealed class AlertStateMachineTests
{
    private static readonly AlertRule Rule = new("backlog", AlertKind.QueueDepth, "default", High: 100, Low: 20, For: TimeSpan.FromMinutes(2));
    private readonly FakeTime _time = new(new DateTimeOffset(2026, 11, 22, 12, 0, 0, TimeSpan.Zero));
    private readonly List<AlertChange> _changes = [];
    private AlertState _state;

    public AlertStateMachineTests() => _state = AlertState.Initial(_time.GetUtcNow());

    /// <summary>Feeds <paramref name="value"/> every 10 s for <paramref name="seconds"/>.</summary>
    private void Feed(double value, int seconds)
    {
        for (var t = 0; t < seconds; t += 10)
        {
            var (next, change) = AlertStateMachine.Next(_state, Rule, value, _time.GetUtcNow());
            _state = next;
            if (change is not null)
            {
                _changes.Add(change);
            }

            _time.Advance(TimeSpan.FromSeconds(10));
        }
    }

    [Fact]
    public void Fires_once_after_staying_at_or_above_high_water_for_the_dwell_time()
    {
        Feed(150, 110);
        Assert.Empty(_changes);
        Assert.Equal(AlertStatus.Pending, _state.Status);

        Feed(100, 600);
        var fired = Assert.Single(_changes);
        Assert.True(fired.Fired);
        Assert.Equal("ALERT backlog FIRING: queue default depth (enqueued jobs) is 100, at or above the high-water mark 100 for 120 s", fired.Text);
    }

    [Fact]
    public void A_dip_below_high_water_restarts_the_dwell_time()
    {
        Feed(150, 100);
        Feed(99, 10);
        Feed(150, 110);
        Assert.Empty(_changes);
        Feed(150, 20);
        Assert.Single(_changes);
    }

    [Fact]
    public void Does_not_flap_between_the_marks_and_resolves_once_below_low_water_for_the_dwell_time()
    {
        Feed(150, 130);
        Assert.Single(_changes);

        // Between the marks for a long time, with spikes on both sides of nothing: no change.
        Feed(60, 600);
        Feed(99, 600);
        Feed(21, 600);
        Assert.Single(_changes);
        Assert.Equal(AlertStatus.Firing, _state.Status);

        // Below low-water, but back between the marks before the dwell time: still firing.
        Feed(5, 110);
        Feed(30, 10);
        Assert.Single(_changes);
        Assert.Equal(AlertStatus.Firing, _state.Status);

        Feed(19, 130);
        Assert.Equal(2, _changes.Count);
        Assert.False(_changes[1].Fired);
        Assert.StartsWith("ALERT backlog RESOLVED: queue default depth (enqueued jobs) is 19, below the low-water mark 20 for 120 s", _changes[1].Text, StringComparison.Ordinal);

        // Quiet again: back between the marks does not fire.
        Feed(80, 600);
        Assert.Equal(2, _changes.Count);
        Assert.Equal(AlertStatus.Ok, _state.Status);
    }

    [Fact]
    public void The_state_is_all_that_is_needed_to_carry_on_so_a_new_leader_neither_fires_again_nor_forgets()
    {
        Feed(150, 130);
        var stored = _state; // what the leader stored in PostgreSQL

        // A new leader starts from the stored state: the value is still high, nothing new is sent.
        var (next, change) = AlertStateMachine.Next(stored, Rule, 150, _time.GetUtcNow());
        Assert.Null(change);
        Assert.Equal(AlertStatus.Firing, next.Status);

        // And it resolves it later, as the first leader would have.
        _state = next;
        Feed(0, 130);
        Assert.False(Assert.Single(_changes.Skip(1)).Fired);
    }
}
