using System.Diagnostics;

namespace OfflineTasks.Benchmarks;

/// <summary>Scrapes a <c>/metrics</c> URL at a fixed interval in the background, as Prometheus would, and keeps each scrape's duration.</summary>
internal sealed class PeriodicScraper : IAsyncDisposable
{
    private readonly HttpClient _http = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly List<double> _milliseconds = [];
    private Task _loop = Task.CompletedTask;

    private PeriodicScraper()
    {
    }

    /// <summary>Scrapes that failed (connection error or a status other than 200).</summary>
    public int Failures { get; private set; }

    public string? LastError { get; private set; }

    /// <summary>The size of the last successful scrape's body.</summary>
    public int LastBytes { get; private set; }

    /// <summary>Scrapes <paramref name="url"/> at once and then every <paramref name="every"/>, until stopped.</summary>
    public static PeriodicScraper Start(Uri url, TimeSpan every)
    {
        var scraper = new PeriodicScraper();
        scraper._loop = Task.Run(() => scraper.RunAsync(url, every));
        return scraper;
    }

    /// <summary>Stops scraping; returns the duration of each successful scrape, in ms.</summary>
    public async Task<IReadOnlyList<double>> StopAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        return _milliseconds;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _http.Dispose();
        _stop.Dispose();
    }

    private async Task RunAsync(Uri url, TimeSpan every)
    {
        using var timer = new PeriodicTimer(every);
        try
        {
            do
            {
                var started = Stopwatch.GetTimestamp();
                try
                {
                    var body = await _http.GetByteArrayAsync(url, _stop.Token);
                    _milliseconds.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                    LastBytes = body.Length;
                }
                catch (HttpRequestException e)
                {
                    Failures++;
                    LastError = e.Message;
                }
            }
            while (await timer.WaitForNextTickAsync(_stop.Token));
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }
}
