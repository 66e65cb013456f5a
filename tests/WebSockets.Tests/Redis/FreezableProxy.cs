using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace WebSockets.Tests.Redis;

/// <summary>
/// A TCP proxy on 127.0.0.1 in front of a redis-server. <see cref="FreezeSubscribers"/> makes every current connection
/// that has sent <c>SUBSCRIBE</c> half-open: from then on nothing goes through it in either direction, yet neither side
/// is closed (no FIN, no RST), as with a peer that vanished from the network. Connections made later go through.
/// </summary>
internal sealed class FreezableProxy : IAsyncDisposable
{
    private static readonly byte[] Subscribe = Encoding.ASCII.GetBytes("\r\nSUBSCRIBE\r\n");
    private static readonly byte[] Ping = Encoding.ASCII.GetBytes("\r\nPING\r\n");

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _targetPort;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentBag<Pair> _pairs = [];
    private readonly Task _accepting;
    private int _accepted;
    private int _subscriberPings;

    public FreezableProxy(int targetPort)
    {
        _targetPort = targetPort;
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = Task.Run(AcceptLoopAsync);
    }

    public int Port { get; }

    /// <summary>Connections accepted so far.</summary>
    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>Subscriber connections (those that sent SUBSCRIBE) accepted so far.</summary>
    public int Subscribers => _pairs.Count(p => p.IsSubscriber);

    /// <summary>PINGs sent on subscriber connections so far (counted per read, so a few may count as one).</summary>
    public int SubscriberPings => Volatile.Read(ref _subscriberPings);

    /// <summary>Opens a connection to the proxy, for <c>RedisBackplaneOptions.ConnectionFactory</c>.</summary>
    public async ValueTask<Stream> ConnectAsync(CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(IPAddress.Loopback, Port, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Freezes every current subscriber connection; returns how many.</summary>
    public int FreezeSubscribers()
    {
        var frozen = 0;
        foreach (var pair in _pairs)
        {
            if (pair.IsSubscriber && !pair.IsClosed)
            {
                pair.Frozen = true;
                frozen++;
            }
        }

        return frozen;
    }

    public async ValueTask DisposeAsync()
    {
        _stopping.Cancel();
        _listener.Stop();
        foreach (var pair in _pairs)
        {
            pair.Close();
        }

        try
        {
            await _accepting;
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        _stopping.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            var client = await _listener.AcceptSocketAsync(_stopping.Token);
            Interlocked.Increment(ref _accepted);
            var server = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await server.ConnectAsync(IPAddress.Loopback, _targetPort, _stopping.Token);
            }
            catch (SocketException)
            {
                client.Dispose();
                server.Dispose();
                continue;
            }

            var pair = new Pair(client, server);
            _pairs.Add(pair);
            _ = Task.Run(() => PumpAsync(pair, client, server, sniff: true));
            _ = Task.Run(() => PumpAsync(pair, server, client, sniff: false));
        }
    }

    private async Task PumpAsync(Pair pair, Socket from, Socket to, bool sniff)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer);
                if (read == 0)
                {
                    break;
                }

                if (sniff && buffer.AsSpan(0, read).IndexOf(Subscribe) >= 0)
                {
                    pair.IsSubscriber = true;
                }

                if (sniff && pair.IsSubscriber && buffer.AsSpan(0, read).IndexOf(Ping) >= 0)
                {
                    Interlocked.Increment(ref _subscriberPings);
                }

                // Frozen: swallowed, as by a network that no longer delivers anything; nothing is closed.
                if (!pair.Frozen)
                {
                    await to.SendAsync(buffer.AsMemory(0, read));
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }

        pair.Close();
    }

    private sealed class Pair(Socket client, Socket server)
    {
        private int _closed;

        public volatile bool IsSubscriber;
        public volatile bool Frozen;

        public bool IsClosed => Volatile.Read(ref _closed) != 0;

        public void Close()
        {
            if (Interlocked.Exchange(ref _closed, 1) == 0)
            {
                client.Dispose();
                server.Dispose();
            }
        }
    }
}
