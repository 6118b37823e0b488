using System.Buffers;
using System.Text;
using System.Text.Json;

namespace OfflineTasks.Gate;

/// <summary>The JSON stored beside a shard state: the hysteresis state (for a new leader) and the latest samples (for metrics and the dashboard).</summary>
internal static class ShardPolicyJson
{
    /// <summary>
    /// The JSON of <paramref name="state"/> (what the gate measured). Under an operator's switch the stored mode and
    /// reason are the switch's: the measured ones are kept under <c>measured</c>, and <c>kind</c> says <c>switch</c>.
    /// </summary>
    public static string Policy(ShardPolicyState state, ShardSwitch? forced = null) => Write(w =>
    {
        w.WriteStartObject();
        if (state.CalmSince is { } calm)
        {
            w.WriteString("calm_since", calm);
        }

        if (forced is not null)
        {
            w.WriteString("holding", forced.Describe(state.Mode == ShardMode.Open ? "open" : "closed"));
            w.WriteString("kind", ShardSwitch.Kind);
            w.WriteStartObject("measured");
            w.WriteString("mode", ShardModeNames.Name(state.Mode));
            w.WriteString("reason", state.Reason);
            w.WriteString("changed_at", state.ChangedAt);
            WriteHolding(w, state);
            w.WriteEndObject();
        }
        else
        {
            WriteHolding(w, state);
        }

        w.WriteEndObject();
    });

    private static void WriteHolding(Utf8JsonWriter w, ShardPolicyState state)
    {
        if (state.Holding is { } holding)
        {
            w.WriteString("holding", holding);
        }

        if (state.Kind.Length > 0)
        {
            w.WriteString("kind", state.Kind);
        }
    }

    /// <summary>Rebuilds the hysteresis state of a stored shard state.</summary>
    public static ShardPolicyState Read(ShardState state, string? policyJson)
    {
        DateTimeOffset? calm = null;
        string? holding = null;
        var kind = "";
        var (mode, reason, changedAt) = (state.Mode, state.Reason, state.ChangedAt);
        if (!string.IsNullOrEmpty(policyJson))
        {
            using var doc = JsonDocument.Parse(policyJson);
            if (doc.RootElement.TryGetProperty("calm_since", out var c) && c.TryGetDateTimeOffset(out var at))
            {
                calm = at;
            }

            // Under a switch, the measured state is kept apart from the written one.
            var measured = doc.RootElement.TryGetProperty("measured", out var m) ? m : doc.RootElement;
            if (measured.TryGetProperty("mode", out var md))
            {
                mode = ShardModeNames.Parse(md.GetString() ?? "");
                reason = measured.TryGetProperty("reason", out var r) ? r.GetString() ?? "" : "";
                changedAt = measured.TryGetProperty("changed_at", out var ch) && ch.TryGetDateTimeOffset(out var since) ? since : changedAt;
            }

            if (measured.TryGetProperty("holding", out var h))
            {
                holding = h.GetString();
            }

            if (measured.TryGetProperty("kind", out var k))
            {
                kind = k.GetString() ?? "";
            }
        }

        return new ShardPolicyState(mode, reason, changedAt, calm, holding, kind);
    }

    /// <summary>What holds a stored shard state, and the kind of its reason.</summary>
    public static (string? Holding, string Kind) Holding(string policyJson)
    {
        using var doc = JsonDocument.Parse(policyJson);
        return (doc.RootElement.TryGetProperty("holding", out var h) ? h.GetString() : null,
            doc.RootElement.TryGetProperty("kind", out var k) ? k.GetString() ?? "" : "");
    }

    public static string Signals(IEnumerable<MasterSample> samples) => Write(w =>
    {
        w.WriteStartObject();
        foreach (var sample in samples)
        {
            w.WriteStartObject(sample.Master.Name);
            w.WriteString("sampled_at", sample.SampledAt);
            w.WriteNumber("probe_seconds", sample.Duration.TotalSeconds);
            w.WriteBoolean("reachable", sample.Status is not null);
            if (sample.Status is { } s)
            {
                w.WriteNumber("threads_connected", s.ThreadsConnected);
                w.WriteNumber("max_connections", s.MaxConnections);
                if (sample.ConnectionsRatio is { } ratio)
                {
                    w.WriteNumber("connections_ratio", Math.Round(ratio, 4));
                }

                w.WriteNumber("threads_running", s.ThreadsRunning);
                w.WriteBoolean("read_only", s.ReadOnly);
                w.WriteBoolean("io_running", s.Replication.Count > 0 && s.Replication.All(c => c.IoRunning));
                w.WriteBoolean("sql_running", s.Replication.Count > 0 && s.Replication.All(c => c.SqlRunning));
                if (sample.LagSeconds is { } lag)
                {
                    w.WriteNumber("lag_seconds", lag);
                }
                else
                {
                    w.WriteNull("lag_seconds");
                }
            }
            else
            {
                w.WriteString("failure", sample.Failure?.ToString());
                w.WriteString("error", sample.Error);
            }

            w.WriteEndObject();
        }

        w.WriteEndObject();
    });

    private static string Write(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            write(writer);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
