using System.Globalization;

namespace OfflineTasks.Alerts;

/// <summary>Where an alert's state machine stands.</summary>
internal enum AlertStatus
{
    /// <summary>Quiet: the value is below high-water (or has not been above it for long).</summary>
    Ok,

    /// <summary>At or above high-water since <see cref="AlertState.Since"/>, not yet for the dwell time.</summary>
    Pending,

    /// <summary>Fired.</summary>
    Firing,

    /// <summary>Fired, and below low-water since <see cref="AlertState.Since"/>, not yet for the dwell time.</summary>
    Resolving,
}

/// <summary>An alert's state: status, since when, when it last fired, the last value seen, and when it last resolved.</summary>
internal sealed record AlertState(AlertStatus Status, DateTimeOffset Since, DateTimeOffset? FiredAt, double? Value, DateTimeOffset? ResolvedAt = null)
{
    public bool IsFiring => Status is AlertStatus.Firing or AlertStatus.Resolving;

    public static AlertState Initial(DateTimeOffset now) => new(AlertStatus.Ok, now, null, null);
}

/// <summary>A notification-worthy change of an alert.</summary>
internal sealed record AlertChange(AlertRule Rule, bool Fired, double Value, DateTimeOffset At, TimeSpan Lasted)
{
    /// <summary>The chat line: what, the value, the mark, and for how long.</summary>
    public string Text => Fired
        ? string.Create(CultureInfo.InvariantCulture,
            $"ALERT {Rule.Name} FIRING: {Rule.Describe()} is {Value:0.##}, at or above the high-water mark {Rule.High:0.##} for {Rule.For.TotalSeconds:0.#} s")
        : string.Create(CultureInfo.InvariantCulture,
            $"ALERT {Rule.Name} RESOLVED: {Rule.Describe()} is {Value:0.##}, below the low-water mark {Rule.Low:0.##} for {Rule.For.TotalSeconds:0.#} s (it fired {Lasted.TotalMinutes:0.#} min ago)");
}

/// <summary>
/// The high/low-water state machine with dwell time: Ok → Pending at high-water → Firing after <c>For</c>;
/// Firing → Resolving below low-water → Ok after <c>For</c>. A value between the marks changes nothing but cancels
/// a pending fire or resolve. Pure: the same inputs give the same result.
/// </summary>
internal static class AlertStateMachine
{
    public static (AlertState Next, AlertChange? Change) Next(AlertState state, AlertRule rule, double value, DateTimeOffset now)
    {
        var high = value >= rule.High;
        var low = value < rule.Low;
        switch (state.Status)
        {
            case AlertStatus.Ok when high:
            case AlertStatus.Pending when high:
                var pendingSince = state.Status == AlertStatus.Pending ? state.Since : now;
                if (now - pendingSince >= rule.For)
                {
                    return (new AlertState(AlertStatus.Firing, now, now, value, state.ResolvedAt), new AlertChange(rule, true, value, now, TimeSpan.Zero));
                }

                return (new AlertState(AlertStatus.Pending, pendingSince, state.FiredAt, value, state.ResolvedAt), null);
            case AlertStatus.Ok:
            case AlertStatus.Pending:
                return (new AlertState(AlertStatus.Ok, state.Status == AlertStatus.Ok ? state.Since : now, state.FiredAt, value, state.ResolvedAt), null);
            case AlertStatus.Firing when low:
            case AlertStatus.Resolving when low:
                var resolvingSince = state.Status == AlertStatus.Resolving ? state.Since : now;
                if (now - resolvingSince >= rule.For)
                {
                    var lasted = now - (state.FiredAt ?? now);
                    return (new AlertState(AlertStatus.Ok, now, state.FiredAt, value, now), new AlertChange(rule, false, value, now, lasted));
                }

                return (new AlertState(AlertStatus.Resolving, resolvingSince, state.FiredAt, value, state.ResolvedAt), null);
            default:
                return (new AlertState(AlertStatus.Firing, state.Status == AlertStatus.Firing ? state.Since : now, state.FiredAt, value, state.ResolvedAt), null);
        }
    }
}
