using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OfflineTasks.Telemetry;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace OfflineTasks.Alerts;

/// <summary>
/// Sends notices to the team's chat webhook in the background: JSON with a Slack-compatible <c>text</c> field and
/// the structured fields, each attempt under a timeout, retried with backoff, then given up and logged. Posting
/// never blocks: notices wait in a bounded queue (the oldest is dropped, and logged, if the webhook is down for long).
/// </summary>
internal sealed class OperationsNotifier : IHostedService, IAsyncDisposable
{
    private const int Capacity = 1000;
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly TelemetrySettingsMonitor _settings;
    private readonly TimeProvider _time;
    private readonly ILogger<OperationsNotifier> _logger;
    private readonly HttpClient _http;
    private readonly Channel<Notice> _queue;
    private readonly CancellationTokenSource _stopping = new();
    private Task _loop = Task.CompletedTask;
    private int _stopped;

    public OperationsNotifier(TelemetrySettingsMonitor settings, TimeProvider time, ILogger<OperationsNotifier> logger, HttpMessageHandler? handler = null)
    {
        _settings = settings;
        _time = time;
        _logger = logger;
        _http = new HttpClient(handler ?? new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) }, disposeHandler: true)
        {
            Timeout = Timeout.InfiniteTimeSpan, // each attempt has its own timeout
        };
        _queue = Channel.CreateBounded<Notice>(new BoundedChannelOptions(Capacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
            dropped => _logger.LogError("Notification dropped, the webhook queue is full ({Capacity}): {Text}", Capacity, dropped.Text));
    }

    /// <summary>Notices sent (delivered to the webhook) so far.</summary>
    public int Delivered => Volatile.Read(ref _delivered);

    private int _delivered;

    /// <summary>Queues <paramref name="notice"/> for the webhook, if one is configured. Never blocks, never throws.</summary>
    public void Post(Notice notice)
    {
        if (_settings.Current.Webhook.Url is not null)
        {
            _queue.Writer.TryWrite(notice);
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _loop = Task.Run(() => RunAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1)
        {
            return;
        }

        // Give queued notices a moment to go out, then stop.
        _queue.Writer.TryComplete();
        try
        {
            await _loop.WaitAsync(TimeSpan.FromSeconds(5), _time, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            var left = _queue.Reader.Count;
            if (left > 0)
            {
                _logger.LogWarning("Stopping with {Count} notifications not sent to the webhook", left);
            }
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _http.Dispose();
    }

    public async ValueTask DisposeAsync() => await StopAsync(CancellationToken.None).ConfigureAwait(false);

    private async Task RunAsync(CancellationToken stopping)
    {
        await foreach (var notice in _queue.Reader.ReadAllAsync(stopping).ConfigureAwait(false))
        {
            var webhook = _settings.Current.Webhook;
            if (webhook.Url is not { } url)
            {
                continue;
            }

            try
            {
                await Pipeline(webhook).ExecuteAsync(
                    static async (state, ct) =>
                    {
                        using var response = await state.Http.PostAsJsonAsync(state.Url, state.Body, Json, ct).ConfigureAwait(false);
                        response.EnsureSuccessStatusCode();
                    },
                    (Http: _http, Url: url, Body: Body(notice)),
                    stopping).ConfigureAwait(false);
                Interlocked.Increment(ref _delivered);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                _logger.LogError("Webhook gave up after {Attempts} attempts ({Error}); the notification was: {Text}", webhook.MaxAttempts, e.Message, notice.Text);
            }
        }
    }

    private ResiliencePipeline Pipeline(WebhookSettings webhook)
    {
        var builder = new ResiliencePipelineBuilder { TimeProvider = _time };
        if (webhook.MaxAttempts > 1)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<HttpRequestException>().Handle<TimeoutRejectedException>(),
                MaxRetryAttempts = webhook.MaxAttempts - 1,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = webhook.RetryDelay,
                MaxDelay = TimeSpan.FromMinutes(1),
                OnRetry = args =>
                {
                    _logger.LogWarning("Webhook attempt {Attempt} failed, retrying in {Delay:0.0} s: {Error}",
                        args.AttemptNumber + 1, args.RetryDelay.TotalSeconds, args.Outcome.Exception?.Message);
                    return default;
                },
            });
        }

        return builder.AddTimeout(webhook.Timeout).Build();
    }

    private static Dictionary<string, object?> Body(Notice notice)
    {
        var body = new Dictionary<string, object?>(notice.Fields, StringComparer.Ordinal)
        {
            ["text"] = notice.Text,
            ["kind"] = notice.Kind,
            ["at"] = notice.At,
            ["source"] = "offlinetasks",
        };
        return body;
    }
}
