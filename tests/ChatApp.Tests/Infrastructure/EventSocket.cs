using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace ChatApp.Tests.Infrastructure;

/// <summary>
/// A minimal client of the event protocol (docs/protocol.md) over a real <see cref="ClientWebSocket"/>: what a script
/// against /ws/chat does. It writes and reads the JSON by hand, so the tests pin the wire format.
/// </summary>
internal sealed class EventSocket : IAsyncDisposable
{
    private readonly ClientWebSocket _socket;
    private readonly List<JsonElement> _events = [];
    private readonly Dictionary<long, TaskCompletionSource<JsonElement>> _replies = [];
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly Task _reader;
    private TaskCompletionSource _arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _nextId;

    private EventSocket(ClientWebSocket socket)
    {
        _socket = socket;
        _reader = Task.Run(ReadAsync);
    }

    /// <summary>The connection ID from the server's <c>welcome</c> event.</summary>
    public string Id { get; private set; } = "";

    /// <summary>Connects to /ws/chat and waits for its <c>welcome</c>.</summary>
    public static async Task<EventSocket> ConnectAsync(Uri uri)
    {
        var client = await ConnectRawAsync(uri);
        client.Id = (await client.NextAsync("welcome")).GetProperty("id").GetString()!;
        return client;
    }

    /// <summary>Connects to any WebSocket endpoint, such as /ws/echo.</summary>
    public static async Task<EventSocket> ConnectRawAsync(Uri uri)
    {
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(uri, CancellationToken.None).DefaultTimeout();
        return new EventSocket(socket);
    }

    /// <summary>Sends a request and returns the whole reply: <c>data</c> on success, <c>error</c> on failure.</summary>
    public async Task<JsonElement> RequestAsync(string eventName, object? data)
    {
        var reply = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        long id;
        lock (_replies)
        {
            id = ++_nextId;
            _replies[id] = reply;
        }

        await SendJsonAsync(new { @event = eventName, data, id });
        return await reply.Task.DefaultTimeout();
    }

    /// <summary>Sends a request that must succeed and returns its data.</summary>
    public async Task<JsonElement> RequestDataAsync(string eventName, object? data)
    {
        var reply = await RequestAsync(eventName, data);
        Assert.False(reply.TryGetProperty("error", out var error), $"{eventName} failed: {error}");
        return reply.GetProperty("data");
    }

    /// <summary>Sends an event (no reply).</summary>
    public Task EmitAsync(string eventName, object? data) => SendJsonAsync(new { @event = eventName, data });

    public Task SendTextAsync(string text) => SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text);

    public Task SendBinaryAsync(byte[] data) => SendAsync(data, WebSocketMessageType.Binary);

    /// <summary>Waits for the next event of that name whose data matches; earlier events of other names stay for later calls.</summary>
    public async Task<JsonElement> NextAsync(string eventName, Func<JsonElement, bool>? match = null)
    {
        using var timeout = new CancellationTokenSource(TaskTimeoutExtensions.DefaultTimeoutValue);
        while (true)
        {
            Task arrived;
            lock (_events)
            {
                for (var i = 0; i < _events.Count; i++)
                {
                    var message = _events[i];
                    if (message.GetProperty("event").GetString() == eventName && (match is null || match(message.GetProperty("data"))))
                    {
                        _events.RemoveAt(i);
                        return message.GetProperty("data");
                    }
                }

                arrived = _arrived.Task;
            }

            try
            {
                await arrived.WaitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                string seen;
                lock (_events)
                {
                    seen = string.Join('\n', _events.Select(e => e.GetRawText()));
                }

                throw new TimeoutException($"No '{eventName}' event arrived within {TaskTimeoutExtensions.DefaultTimeoutValue}. Received:\n{seen}");
            }
        }
    }

    /// <summary>Waits for the next raw message (for /ws/echo): its type and bytes.</summary>
    public async Task<(WebSocketMessageType Type, byte[] Data)> ReceiveRawAsync()
    {
        var raw = await NextAsync(RawEvent);
        return (raw.GetProperty("binary").GetBoolean() ? WebSocketMessageType.Binary : WebSocketMessageType.Text, raw.GetProperty("bytes").GetBytesFromBase64());
    }

    /// <summary>Drops the TCP connection without a close handshake, as a closed laptop would.</summary>
    public void Abort() => _socket.Abort();

    private const string RawEvent = "$raw";

    private async Task SendJsonAsync<T>(T message) => await SendAsync(JsonSerializer.SerializeToUtf8Bytes(message, JsonSerializerOptions.Web), WebSocketMessageType.Text);

    private async Task SendAsync(byte[] bytes, WebSocketMessageType type)
    {
        await _sendLock.WaitAsync();
        try
        {
            await _socket.SendAsync(bytes, type, endOfMessage: true, CancellationToken.None).DefaultTimeout();
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private async Task ReadAsync()
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (_socket.State == WebSocketState.Open)
            {
                using var message = new MemoryStream();
                WebSocketReceiveResult result;
                do
                {
                    result = await _socket.ReceiveAsync(buffer, CancellationToken.None);
                    message.Write(buffer, 0, result.Count);
                }
                while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }

                Dispatch(message.ToArray(), result.MessageType);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The connection ended; waits for events fail with their timeout and what was received.
        }
    }

    private void Dispatch(byte[] bytes, WebSocketMessageType type)
    {
        JsonElement message;
        try
        {
            message = type == WebSocketMessageType.Text ? JsonSerializer.Deserialize<JsonElement>(bytes) : default;
        }
        catch (JsonException)
        {
            message = default;
        }

        if (message.ValueKind == JsonValueKind.Object && message.TryGetProperty("reply", out var replyId))
        {
            TaskCompletionSource<JsonElement>? reply;
            lock (_replies)
            {
                _replies.Remove(replyId.GetInt64(), out reply);
            }

            reply?.TrySetResult(message);
            return;
        }

        // Anything that is not an event (e.g. /ws/echo's raw frames) is kept as a "$raw" event with its bytes.
        if (message.ValueKind != JsonValueKind.Object || !message.TryGetProperty("event", out _))
        {
            message = JsonSerializer.SerializeToElement(new { @event = RawEvent, data = new { binary = type == WebSocketMessageType.Binary, bytes } });
        }

        lock (_events)
        {
            _events.Add(message);
            var arrived = _arrived;
            _arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            arrived.TrySetResult();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            try
            {
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None).DefaultTimeout();
            }
            catch (Exception e) when (e is WebSocketException or TimeoutException)
            {
            }
        }

        _socket.Abort();
        await _reader.WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(static _ => { }, TaskScheduler.Default);
        _socket.Dispose();
        _sendLock.Dispose();
    }
}
