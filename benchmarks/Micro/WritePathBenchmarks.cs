using System.Net.WebSockets;
using System.Threading.Channels;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;
using WebSockets.Internal;

namespace WebSockets.Benchmarks.Micro;

/// <summary>
/// "A pre-serialized message must reach the socket without any allocation per message." A server-side managed
/// WebSocket over a stream that accepts every write at once, so what is measured is the queue and the framing, not
/// a network.
/// </summary>
[MemoryDiagnoser]
public class WritePathBenchmarks
{
    private WebSocket _socket = null!;
    private Channel<SocketMessage> _channel = null!;
    private SocketMessage _message;

    [Params(128, 4096)]
    public int PayloadBytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _socket = WebSocket.CreateFromStream(new NullWriteStream(), new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });

        // The connection's queue: bounded, one reader (the write pump), any number of writers.
        _channel = Channel.CreateBounded<SocketMessage>(new BoundedChannelOptions(256)
        {
            SingleReader = true,
            SingleWriter = false,
            AllowSynchronousContinuations = false,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _message = new SocketMessage(WebSocketMessageType.Text, Payload(PayloadBytes));
    }

    [GlobalCleanup]
    public void Cleanup() => _socket.Dispose();

    /// <summary>The write pump's inner loop step: enqueue, dequeue, frame and write to the stream.</summary>
    [Benchmark]
    public async Task EnqueueDequeueSend()
    {
        _channel.Writer.TryWrite(_message);
        _channel.Reader.TryRead(out var m);
        await _socket.SendAsync(m.Data, m.MessageType, WebSocketMessageFlags.EndOfMessage, default);
    }

    internal static byte[] Payload(int size)
    {
        // A JSON event frame padded to the size: what EventMessage produces.
        var prefix = "{\"event\":\"tick\",\"data\":\""u8;
        var suffix = "\"}"u8;
        var payload = new byte[size];
        prefix.CopyTo(payload);
        payload.AsSpan(prefix.Length, size - prefix.Length - suffix.Length).Fill((byte)'x');
        suffix.CopyTo(payload.AsSpan(size - suffix.Length));
        return payload;
    }
}

/// <summary>
/// The real write pump of a started SocketConnection (SocketConnection.Start over the same null stream): the caller
/// queues with connection.SendAsync and waits (spinning, allocation-free) until the pump has written the frame(s).
/// MemoryDiagnoser counts every thread's allocations, so whatever the pump allocates on the thread pool shows here.
/// </summary>
[MemoryDiagnoser]
public class WritePumpBenchmarks
{
    private const int Burst = 64;

    private Fixture _fixture = null!;
    private SocketConnection _connection = null!;
    private NullWriteStream _stream = null!;
    private SocketMessage _message;

    [GlobalSetup]
    public void Setup()
    {
        _fixture = new Fixture(sendQueueCapacity: 1024);
        _connection = new SocketConnection("pump", new DefaultHttpContext(), null, _fixture.Registry, _fixture.Endpoint, _fixture.Namespace);
        _stream = new NullWriteStream();
        _connection.Start(WebSocket.CreateFromStream(_stream, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero }));
        _message = new SocketMessage(WebSocketMessageType.Text, WritePathBenchmarks.Payload(128));

        // Fail fast: a sent message reaches the stream.
        SendOne().AsTask().GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _connection.Abort();
        _fixture.Dispose();
    }

    /// <summary>One message at a time: the pump goes idle (waits on the empty queue) between messages.</summary>
    [Benchmark(Baseline = true)]
    public ValueTask SendOne()
    {
        var target = _stream.Writes + 1;
        var sending = _connection.SendAsync(_message);
        WaitForWrites(target);
        return sending;
    }

    /// <summary>A burst of <see cref="Burst"/> messages queued at once, then waited for: per-message cost when the pump stays busy.</summary>
    [Benchmark(OperationsPerInvoke = Burst)]
    public void SendBurst()
    {
        var target = _stream.Writes + Burst;
        for (var i = 0; i < Burst; i++)
        {
            var sending = _connection.SendAsync(_message);
            sending.GetAwaiter().GetResult();
        }

        WaitForWrites(target);
    }

    private void WaitForWrites(long target)
    {
        var spinner = default(SpinWait);
        while (_stream.Writes < target)
        {
            if (!_connection.IsOpen)
            {
                throw new InvalidOperationException("The connection closed.");
            }

            spinner.SpinOnce(sleep1Threshold: -1);
        }
    }
}

/// <summary>A stream that accepts every write synchronously and never has anything to read.</summary>
internal sealed class NullWriteStream : Stream
{
    private long _writes;

    /// <summary>How many writes (WebSocket frames, for messages that fit the send buffer) have been accepted.</summary>
    public long Writes => Volatile.Read(ref _writes);

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _writes);
        return default;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _writes);
        return Task.CompletedTask;
    }

    public override void Write(byte[] buffer, int offset, int count) => Interlocked.Increment(ref _writes);

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override void Flush()
    {
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        => throw new NotSupportedException("Nothing is ever read: the benchmarks only send.");

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}

/// <summary>
/// The root cause behind <see cref="WritePumpBenchmarks.SendOne"/>'s allocation, in isolation: the write pump parks on
/// an empty queue with <c>reader.WaitToReadAsync(token)</c>. With a token that can be canceled (the connection's
/// ConnectionClosed token), the bounded channel cannot reuse its single waiter and allocates one per wait.
/// </summary>
[MemoryDiagnoser]
public class QueueWaitBenchmarks
{
    private Channel<SocketMessage> _channel = null!;
    private CancellationTokenSource _closed = null!;
    private SocketMessage _message;

    [GlobalSetup]
    public void Setup()
    {
        _channel = Channel.CreateBounded<SocketMessage>(new BoundedChannelOptions(256)
        {
            SingleReader = true,
            SingleWriter = false,
            AllowSynchronousContinuations = false,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _closed = new CancellationTokenSource();
        _message = new SocketMessage(WebSocketMessageType.Text, WritePathBenchmarks.Payload(128));
    }

    [GlobalCleanup]
    public void Cleanup() => _closed.Dispose();

    /// <summary>Wait on the empty queue without a token, then one message arrives and is read.</summary>
    [Benchmark(Baseline = true)]
    public ValueTask<bool> IdleWaitWithoutToken() => WaitThenReadAsync(CancellationToken.None);

    /// <summary>The same with a cancelable token, as SocketConnection.WritePumpAsync does.</summary>
    [Benchmark]
    public ValueTask<bool> IdleWaitWithCancelableToken() => WaitThenReadAsync(_closed.Token);

    private async ValueTask<bool> WaitThenReadAsync(CancellationToken token)
    {
        var waiting = _channel.Reader.WaitToReadAsync(token);
        _channel.Writer.TryWrite(_message);
        var ready = await waiting;
        return ready && _channel.Reader.TryRead(out _);
    }
}
