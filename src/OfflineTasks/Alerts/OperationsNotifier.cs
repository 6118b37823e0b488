using System.Net.Http.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OfflineTasks.Telemetry;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace OfflineTasks.Alerts;

/// <summary>
/// The fleet's one operations stream: stores each event (<see cref="Notice"/>) in OfflineTasks' <c>event</c> table,
/// which the dashboard's pages read, and sends it to the team's chat webhook, in the background: JSON with a
/// Slack-compatible <c>text</c> field and the structured fields (<see cref="Notice.Body"/>), each attempt under a
/// timeout, retried with backoff, then given up and logged. Posting never blocks: events wait in a bounded queue (the
/// oldest is dropped, and logged, if the database and the webhook are down for long). The process that made a change
/// posts it (the leaders, for shard changes, releases and alerts), so each event is stored and sent once per fleet.
/// </summary>
internal sealed class OperationsNotifier : IHostedService, IAsyncDisposable
{
    private const int Capacity = 1000;
    private readonly TelemetrySettingsMonitor _settings;
    private readonly Storage.OfflineTasksStore? _store;
    private readonly ResiliencePipeline _storeRetry;
    private readonly TimeProvider _time;
    private readonly ILogger<OperationsNotifier> _logger;
    private readonly HttpClient _http;
    private readonly Channel<(Notice Notice, bool Stored)> _queue;
    private readonly CancellationTokenSource _stopping = new();
    private Task _loop = Task.CompletedTask;
    private int _stopped;

    /// <param name="settings">The webhook's settings.</param>
    /// <param name="time">The retries' clock.</param>
    /// <param name="logger">The log.</param>
    /// <param name="handler">The webhook's HTTP handler (tests); null for the default.</param>
    /// <param name="store">Where events are stored; null stores none (tests of the webhook alone).</param>
    public OperationsNotifier(TelemetrySettingsMonitor settings, TimeProvider time, ILogger<OperationsNotifier> logger, HttpMessageHandler? handler = null,
        Storage.OfflineTasksStore? store = null)
    {
        _settings = settings;
        _store = store;
        _storeRetry = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<Exception>(e => e is not OperationCanceledException),
                MaxRetryAttempts = 2,
                BackoffType = DelayBackoffType.Linear,
                Delay = TimeSpan.FromMilliseconds(200),
                OnRetry = args =>
                {
                    logger.LogWarning("Storing an event failed (attempt {Attempt} of 3), retrying: {Error}", args.AttemptNumber + 1, args.Outcome.Exception?.Message);
                    return default;
                },
            })
            .Build();
        _time = time;
        _logger = logger;
        _http = new HttpClient(handler ?? new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) }, disposeHandler: true)
        {
            Timeout = Timeout.InfiniteTimeSpan, // each attempt has its own timeout
        };
        _queue = Channel.CreateBounded<(Notice, bool)>(new BoundedChannelOptions(Capacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
            dropped => _logger.LogError("Event dropped, the queue to the event table and the webhook is full ({Capacity}): {Text}", Capacity, dropped.Item1.Text));
    }

    /// <summary>Notices sent (delivered to the webhook) so far.</summary>
    public int Delivered => Volatile.Read(ref _delivered);

    private int _delivered;

    /// <summary>Events stored so far.</summary>
    public int Stored => Volatile.Read(ref _stored);

    private int _stored;

    /// <summary>
    /// Queues <paramref name="notice"/> for the event table and the webhook (if one is configured). Never blocks, never
    /// throws. <paramref name="stored"/>: the event is in the table already (written with the change it reports).
    /// </summary>
    public void Post(Notice notice, bool stored = false)
    {
        if ((!stored && _store is not null) || _settings.Current.Webhook.Url is not null)
        {
            _queue.Writer.TryWrite((notice, stored));
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
        await foreach (var (notice, stored) in _queue.Reader.ReadAllAsync(stopping).ConfigureAwait(false))
        {
            if (!stored && _store is not null)
            {
                await StoreAsync(notice, stopping).ConfigureAwait(false);
            }

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
                        using var response = await state.Http.PostAsJsonAsync(state.Url, state.Body, Notice.Json, ct).ConfigureAwait(false);
                        response.EnsureSuccessStatusCode();
                    },
                    (Http: _http, Url: url, Body: notice.Body()),
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

    /// <summary>Stores <paramref name="notice"/>, trying three times; an event that cannot be stored is logged (and still sent to chat).</summary>
    private async Task StoreAsync(Notice notice, CancellationToken stopping)
    {
        try
        {
            await _storeRetry.ExecuteAsync(
                static (state, ct) => new ValueTask(state.Store.AppendEventAsync(state.Notice, ct)), (Store: _store!, Notice: notice), stopping).ConfigureAwait(false);
            Interlocked.Increment(ref _stored);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            _logger.LogError("Storing an event failed three times; the dashboard will not show it: {Error}. The event was: {Text}", e.Message, notice.Text);
        }
    }

}
