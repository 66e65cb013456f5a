using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;

namespace LoadGen;

/// <summary>
/// Opens ClientWebSockets through SocketsHttpHandlers that never use a proxy. With source addresses,
/// there is one handler per address whose ConnectCallback binds the socket to it before connecting,
/// so the 4-tuples spread over many local IPs (and their ephemeral port ranges).
/// </summary>
public sealed class Connector : IDisposable
{
    private readonly HttpMessageInvoker[] _invokers;
    private readonly Options _options;
    private int _next = -1;

    public Connector(Options options)
    {
        _options = options;
        if (options.SourceIps.Count == 0)
        {
            _invokers = [new HttpMessageInvoker(CreateHandler(null))];
        }
        else
        {
            _invokers = new HttpMessageInvoker[options.SourceIps.Count];
            for (var i = 0; i < _invokers.Length; i++)
            {
                _invokers[i] = new HttpMessageInvoker(CreateHandler(options.SourceIps[i]));
            }
        }
    }

    public Uri WebSocketUri(string path) =>
        new UriBuilder("ws", _options.BaseUrl.Host, _options.BaseUrl.Port, path).Uri;

    /// <summary>
    /// Connects one WebSocket (and, for SignalR, completes the JSON hub handshake, leaving any records
    /// that followed the handshake in <paramref name="hub"/>).
    /// </summary>
    public async Task<ClientWebSocket> ConnectAsync(Uri uri, int bufferSize, HubScanner? hub, byte[] scratch, CancellationToken ct)
    {
        var ws = new ClientWebSocket();
        ws.Options.SetBuffer(bufferSize, bufferSize);
        var invoker = _invokers[(int)((uint)Interlocked.Increment(ref _next) % (uint)_invokers.Length)];
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(_options.ConnectTimeoutSeconds));
        try
        {
            await ws.ConnectAsync(uri, invoker, timeout.Token);
            if (hub is not null)
            {
                await ws.SendAsync(HubScanner.Handshake, WebSocketMessageType.Text, true, timeout.Token);
                while (!hub.HandshakeDone)
                {
                    var r = await ws.ReceiveAsync(scratch.AsMemory(), timeout.Token);
                    if (r.MessageType == WebSocketMessageType.Close)
                    {
                        throw new HubProtocolException($"the server closed during the hub handshake ({ws.CloseStatus} {ws.CloseStatusDescription})");
                    }

                    hub.Feed(scratch.AsSpan(0, r.Count));
                }
            }

            return ws;
        }
        catch
        {
            ws.Abort();
            ws.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Runs <paramref name="connectOne"/> for indexes [from, to) with at most
    /// --connect-concurrency in progress. Returns (connected, failed) and the first error.
    /// </summary>
    public async Task<ConnectReport> ConnectManyAsync(int from, int to, Func<int, CancellationToken, Task> connectOne, bool stopOnError, CancellationToken ct)
    {
        var next = from - 1;
        var connected = 0;
        var failed = 0;
        Exception? firstError = null;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var started = Stopwatch.GetTimestamp();

        async Task Worker()
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < to && !stop.IsCancellationRequested)
            {
                try
                {
                    await connectOne(i, stop.Token);
                    Interlocked.Increment(ref connected);
                }
                catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    Interlocked.Increment(ref failed);
                    Interlocked.CompareExchange(ref firstError, e, null);
                    if (stopOnError)
                    {
                        await stop.CancelAsync();
                    }
                }
            }
        }

        var workers = new Task[Math.Min(_options.ConnectConcurrency, Math.Max(1, to - from))];
        for (var w = 0; w < workers.Length; w++)
        {
            workers[w] = Worker();
        }

        await Task.WhenAll(workers);
        ct.ThrowIfCancellationRequested();
        return new ConnectReport(connected, failed, firstError, Stopwatch.GetElapsedTime(started));
    }

    /// <summary>Sends close frames on all sockets (bounded concurrency), waits a while for the loops, then aborts.</summary>
    public static async Task CloseAllAsync(IReadOnlyList<ClientWebSocket?> sockets, Task? loops, TimeSpan wait)
    {
        var next = -1;
        using var timeout = new CancellationTokenSource(wait);

        async Task Worker()
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < sockets.Count)
            {
                var ws = sockets[i];
                if (ws is null || ws.State != WebSocketState.Open)
                {
                    continue;
                }

                try
                {
                    await ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token);
                }
                catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
                {
                }
            }
        }

        var workers = new Task[Math.Min(200, Math.Max(1, sockets.Count))];
        for (var w = 0; w < workers.Length; w++)
        {
            workers[w] = Worker();
        }

        await Task.WhenAll(workers);
        if (loops is not null)
        {
            await Task.WhenAny(loops, Task.Delay(wait));
        }

        foreach (var ws in sockets)
        {
            if (ws is not null)
            {
                ws.Abort();
                ws.Dispose();
            }
        }

        if (loops is not null)
        {
            await Task.WhenAny(loops, Task.Delay(1000));
        }
    }

    private static SocketsHttpHandler CreateHandler(IPAddress? source)
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(30),
        };
        if (source is not null)
        {
            handler.ConnectCallback = async (context, ct) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    TryBindAddressNoPort(socket);
                    socket.Bind(new IPEndPoint(source, 0));
                    await socket.ConnectAsync(context.DnsEndPoint, ct);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };
        }

        return handler;
    }

    /// <summary>
    /// IP_BIND_ADDRESS_NO_PORT (Linux): bind(addr, 0) defers picking the ephemeral port to connect(),
    /// so the port range is shared per destination instead of being reserved per source address.
    /// </summary>
    private static void TryBindAddressNoPort(Socket socket)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        try
        {
            const int SolIp = 0;
            const int IpBindAddressNoPort = 24;
            socket.SetRawSocketOption(SolIp, IpBindAddressNoPort, BitConverter.GetBytes(1));
        }
        catch (SocketException)
        {
        }
    }

    public void Dispose()
    {
        foreach (var invoker in _invokers)
        {
            invoker.Dispose();
        }
    }
}

public readonly record struct ConnectReport(int Connected, int Failed, Exception? FirstError, TimeSpan Elapsed);
