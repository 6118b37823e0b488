using System.Text.Json;
using Microsoft.Extensions.Configuration;
using OfflineTasks.Gate;
using OfflineTasks.Tests.Infrastructure;

namespace OfflineTasks.Tests.Alerts;

/// <summary>
/// The one operations stream: what the chat webhook receives is what the event table (the dashboard's pages) holds,
/// field for field, for a shard's state change, a switch, and a reload of the gate's settings; each is stored once.
/// </summary>
public sealed class EventStreamTests
{
    private const string Shard = "stream";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Chat_and_the_event_table_get_the_same_events_in_the_same_shape_each_once()
    {
        await using var schema = new TestSchema();
        await schema.InitializeAsync();
        using var webhook = new WebhookReceiver();
        await using var host = new TestHost(schema, 1, GateKeys.Shard(Shard, SharedMariaDbPair.Instance).With(
            ("OfflineTasks:Gate:ProbeInterval", "00:00:00.25"),
            ("OfflineTasks:Telemetry:SampleInterval", "00:00:00.2"),
            ("OfflineTasks:Telemetry:LeaderLease", "00:00:01"),
            ("OfflineTasks:Telemetry:Alerts:Webhook:Url", webhook.Url),
            ("OfflineTasks:Telemetry:Alerts:Webhook:RetryDelay", "00:00:00.05")));
        await host.StartAsync();
        await Eventually.Until(() => schema.Store.GetShardStatesAsync(), s => s.Count == 1 && s[0].Mode == ShardMode.Open, Timeout, "the shard open");

        // A switch (forced closed, then cleared) and a reload of the gate's settings.
        await schema.Store.SetSwitchAsync(Shard, ShardMode.Closed, "schema change", "dba", DateTimeOffset.UtcNow);
        await Eventually.Until(() => schema.Store.GetShardStatesAsync(), s => s[0].Mode == ShardMode.Closed, Timeout, "the shard forced closed");
        await schema.Store.ClearSwitchAsync(Shard, "dba", "done", DateTimeOffset.UtcNow);
        await Eventually.Until(() => schema.Store.GetShardStatesAsync(), s => s[0].Mode == ShardMode.Open, Timeout, "the shard open again");
        host.Configuration["OfflineTasks:Gate:Shards:" + Shard + ":HoldTime"] = "00:00:03";
        ((IConfigurationRoot)host.Configuration).Reload();

        // Closed, reopened, switch set, switch cleared, config: five events to chat (the first opening is stored only).
        var sent = await Eventually.Until(() => Task.FromResult(webhook.Accepted.ToList()), a => a.Count >= 5, Timeout, "five events sent to chat");
        var stored = await Eventually.Until(() => schema.Store.GetEventsAsync(Shard), e => e.Count >= 6, Timeout, "six events stored");
        Assert.Equal(["shard", "shard", "switch", "shard", "switch", "config"], stored.Reverse().Select(e => e.Kind));
        Assert.Equal(5, sent.Count);
        foreach (var body in sent)
        {
            var text = body.GetProperty("text").GetString();
            var same = Assert.Single(stored, e => e.Text == text);
            Assert.Equal(Normalise(body), Normalise(JsonDocument.Parse(same.Json).RootElement));
            Assert.Equal("offlinetasks", body.GetProperty("source").GetString());
        }

        var cleared = stored.First(e => e.Kind == "switch");
        Assert.Equal(Shard, cleared.Shard);
        Assert.Equal("Switch on shard stream cleared: the gate decides again", cleared.Text);
        var config = Assert.Single(stored, e => e.Kind == "config");
        Assert.Null(config.Shard);
        Assert.Contains("stream 3 s", config.Text, StringComparison.Ordinal);
    }

    /// <summary>The fields and their values, as text, in order of name (PostgreSQL's jsonb orders keys its own way).</summary>
    private static List<string> Normalise(JsonElement body) =>
        [.. body.EnumerateObject().Select(p => p.Name + "=" + (p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString() : p.Value.GetRawText())).Order(StringComparer.Ordinal)];
}
