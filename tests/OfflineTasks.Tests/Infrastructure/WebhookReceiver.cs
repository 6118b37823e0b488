using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace OfflineTasks.Tests.Infrastructure;

/// <summary>
/// A chat webhook for tests: an HTTP listener on a free loopback port that records every JSON body it accepts. It can
/// answer the first <see cref="FailFirst"/> requests with 500, or hold every request for <see cref="Delay"/>.
/// </summary>
public sealed class WebhookReceiver : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _requests;

    public WebhookReceiver()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        Url = $"http://127.0.0.1:{port}/hook/";
        _listener.Prefixes.Add(Url);
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public string Url { get; }

    public int FailFirst { get; init; }

    public TimeSpan Delay { get; init; }

    /// <summary>Every request received, accepted or not.</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>The JSON bodies accepted (answered 200), in order.</summary>
    public ConcurrentQueue<JsonElement> Accepted { get; } = new();

    /// <summary>Every accepted request as (path, content type, body length): for non-JSON posts such as OTLP.</summary>
    public ConcurrentQueue<(string Path, string? ContentType, int Length)> Raw { get; } = new();

    public IReadOnlyList<JsonElement> Alerts => Accepted.Where(b => b.GetProperty("kind").GetString() == "alert").ToList();

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Close();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }

        _stop.Dispose();
    }

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (HttpListenerException)
            {
                return;
            }

            _ = Task.Run(() => HandleAsync(context));
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        var n = Interlocked.Increment(ref _requests);
        try
        {
            using var buffer = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(buffer);
            var body = buffer.ToArray();
            if (Delay > TimeSpan.Zero)
            {
                await Task.Delay(Delay, _stop.Token);
            }

            if (n <= FailFirst)
            {
                context.Response.StatusCode = 500;
            }
            else
            {
                Raw.Enqueue((context.Request.Url?.AbsolutePath ?? "", context.Request.ContentType, body.Length));
                if (context.Request.ContentType?.Contains("json", StringComparison.OrdinalIgnoreCase) == true)
                {
                    Accepted.Enqueue(JsonDocument.Parse(body).RootElement.Clone());
                }

                context.Response.StatusCode = 200;
            }

            context.Response.Close();
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
        }
        catch (HttpListenerException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
