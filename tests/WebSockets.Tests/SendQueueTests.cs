using System.Buffers.Binary;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using WebSockets.Tests.Infrastructure;

namespace WebSockets.Tests;

/// <summary>
/// The send path: the bounded per-connection queue under concurrency and under a client that stops reading,
/// broadcasts, the SendAsync overloads, incoming size limits and sends to closed connections.
/// </summary>
public sealed class SendQueueTests
{
    private const int SmallCapacity = 4;
    private const int BigMessageSize = 256 * 1024;
    private const int BlockerSize = 16 * 1024 * 1024;
    private const int MaxStallIterations = 5000;
    private const int StalledClientReceiveBuffer = 4096;
    private const string DroppedMessages = "websockets.server.dropped_messages";
    private const string Disconnects = "websockets.server.disconnects";
    private const string DisconnectReasonTag = "websockets.disconnect.reason";

    public sealed record Tick(int Value);

    public sealed record OrderPlaced(string CustomerName, int ItemCount);

    // ---- Concurrency ---------------------------------------------------------------------------------------

    [Theory]
    [InlineData(256)] // the default: the queue rarely fills
    [InlineData(8)] // senders keep waiting for room, all at once
    public async Task SixteenConcurrentSenders_ClientReceivesEveryMessageInPerSenderOrder(int capacity)
    {
        const int Senders = 16;
        const int MessagesPerSender = 500;
        var events = new ConnectionEvents();
        await using var host = await StartRegistryHostAsync(events, o =>
        {
            o.SendQueueCapacity = capacity;
            o.SendQueueFullMode = SendQueueFullMode.Wait;
        });
        using var client = await host.ConnectAsync("/ws");
        var connection = await events.NextConnectedAsync().DefaultTimeout();

        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var senders = Enumerable.Range(0, Senders).Select(sender => Task.Run(async () =>
        {
            await gate.Task;
            for (var seq = 0; seq < MessagesPerSender; seq++)
            {
                await connection.SendAsync(string.Create(CultureInfo.InvariantCulture, $"{sender}:{seq}"));
            }
        })).ToArray();
        gate.SetResult();

        var lastSeq = Enumerable.Repeat(-1, Senders).ToArray();
        for (var received = 0; received < Senders * MessagesPerSender; received++)
        {
            var text = await client.ReceiveTextAsync();
            var separator = text.IndexOf(':', StringComparison.Ordinal);
            var sender = int.Parse(text.AsSpan(0, separator), CultureInfo.InvariantCulture);
            var seq = int.Parse(text.AsSpan(separator + 1), CultureInfo.InvariantCulture);
            Assert.True(seq == lastSeq[sender] + 1, $"Sender {sender}: message {seq} arrived after {lastSeq[sender]} (message #{received}).");
            lastSeq[sender] = seq;
        }

        await Task.WhenAll(senders).DefaultTimeout();
        Assert.All(lastSeq, last => Assert.Equal(MessagesPerSender - 1, last));

        // Nothing beyond the 8000 messages (no duplicates): the next message is the sentinel.
        await connection.SendAsync("end").DefaultTimeout();
        Assert.Equal("end", await client.ReceiveTextAsync());
    }

    // ---- Full-queue policies -------------------------------------------------------------------------------

    [Fact]
    public async Task WaitMode_ClientStopsReading_SenderWaitsUntilClientReadsAndNothingIsLost()
    {
        const int Total = SmallCapacity + 3;
        var events = new ConnectionEvents();
        await using var host = await StartRegistryHostAsync(events, o =>
        {
            o.SendQueueCapacity = SmallCapacity;
            o.SendQueueFullMode = SendQueueFullMode.Wait;
        });
        using var metrics = new MetricRecorder(host.Services.GetRequiredService<IMeterFactory>());
        await using var client = await host.ConnectRawAsync("/ws", receiveBufferSize: StalledClientReceiveBuffer);
        var connection = await events.NextConnectedAsync().DefaultTimeout();
        var payloads = new NumberedPayloads();

        // The client reads nothing. Message 0 is too big for the socket buffers, so once the write pump has it,
        // the queue can only fill: at the latest, send number Capacity + 1 has to wait for the client.
        var firstPending = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var sender = Task.Run(async () =>
        {
            for (var i = 0; i < Total; i++)
            {
                var sending = connection.SendAsync(payloads[i]);
                if (!sending.IsCompleted)
                {
                    firstPending.TrySetResult(i);
                }

                await sending;
            }
        });

        await Task.WhenAny(firstPending.Task, sender).DefaultTimeout();
        Assert.True(firstPending.Task.IsCompleted, "Every send completed at once although the client reads nothing.");
        Assert.InRange(await firstPending.Task, SmallCapacity, SmallCapacity + 1);
        Assert.False(sender.IsCompleted, "The sender got ahead of a client that reads nothing.");

        // Now the client reads: the waiting send completes, and every message arrives, in order.
        var frames = await ReceiveDataFramesAsync(client, Total);
        await sender.DefaultTimeout();
        Assert.Equal(Enumerable.Range(0, Total), frames.Select(payloads.IndexOf));
        Assert.Equal(0, metrics.Sum(DroppedMessages));
        Assert.True(connection.IsOpen);

        // Nothing else is on its way: the next message is the sentinel.
        await connection.SendAsync("end").DefaultTimeout();
        Assert.Equal("end", (await client.ReceiveDataFrameAsync().DefaultTimeout()).Text);
    }

    [Fact]
    public async Task WaitMode_SendCanceledWhileWaiting_ThrowsAndItsMessageIsNeverDelivered()
    {
        var events = new ConnectionEvents();
        await using var host = await StartRegistryHostAsync(events, o =>
        {
            o.SendQueueCapacity = SmallCapacity;
            o.SendQueueFullMode = SendQueueFullMode.Wait;
        });
        await using var client = await host.ConnectRawAsync("/ws", receiveBufferSize: StalledClientReceiveBuffer);
        var connection = await events.NextConnectedAsync().DefaultTimeout();
        var payloads = new NumberedPayloads();
        var queued = await FillWhileClientIsStalledAsync(connection, payloads);

        using var cts = new CancellationTokenSource();
        var waiting = connection.SendAsync(payloads[queued], cts.Token);
        Assert.False(waiting.IsCompleted, "A send to a full queue did not wait.");
        var waitingTask = waiting.AsTask();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waitingTask).DefaultTimeout();

        // The client reads: everything queued before arrives; the canceled message does not, and the connection goes on.
        var frames = await ReceiveDataFramesAsync(client, queued);
        Assert.Equal(Enumerable.Range(0, queued), frames.Select(payloads.IndexOf));
        await connection.SendAsync("end").DefaultTimeout();
        Assert.Equal("end", (await client.ReceiveDataFrameAsync().DefaultTimeout()).Text);
        Assert.True(connection.IsOpen);
    }

    [Fact]
    public async Task WaitMode_ClientVanishesWhileSendsWait_WaitingSendAndBroadcastCompleteWithoutThrowing()
    {
        var events = new ConnectionEvents();
        await using var host = await StartRegistryHostAsync(events, o =>
        {
            o.SendQueueCapacity = SmallCapacity;
            o.SendQueueFullMode = SendQueueFullMode.Wait;
        });
        await using var client = await host.ConnectRawAsync("/ws", receiveBufferSize: StalledClientReceiveBuffer);
        var connection = await events.NextConnectedAsync().DefaultTimeout();
        var payloads = new NumberedPayloads();
        var queued = await FillWhileClientIsStalledAsync(connection, payloads);

        var waitingSend = connection.SendAsync(payloads[queued]);
        var waitingBroadcast = host.Registry.BroadcastAsync(payloads[queued + 1]);
        Assert.False(waitingSend.IsCompleted, "A send to a full queue did not wait.");
        Assert.False(waitingBroadcast.IsCompleted, "A broadcast to a full queue did not wait.");
        var sendTask = waitingSend.AsTask();
        var broadcastTask = waitingBroadcast.AsTask();

        client.Reset(); // the client vanishes with a TCP reset

        await sendTask.DefaultTimeout();
        await broadcastTask.DefaultTimeout();
        var (_, reason) = await events.NextDisconnectedAsync().DefaultTimeout();
        Assert.Equal(DisconnectReason.ConnectionLost, reason);
        Assert.False(connection.IsOpen);
    }

    [Fact]
    public async Task DropNewestMode_ClientStopsReading_NewestMessagesAreLostAndEachLossIsCounted()
    {
        var events = new ConnectionEvents();
        await using var host = await StartRegistryHostAsync(events, o =>
        {
            o.SendQueueCapacity = SmallCapacity;
            o.SendQueueFullMode = SendQueueFullMode.DropNewest;
        });
        using var metrics = new MetricRecorder(host.Services.GetRequiredService<IMeterFactory>());
        await using var client = await host.ConnectRawAsync("/ws", receiveBufferSize: StalledClientReceiveBuffer);
        var connection = await events.NextConnectedAsync().DefaultTimeout();
        var payloads = new NumberedPayloads();

        // Send until a drop is counted, then a few more. The counter is updated inside SendAsync, so its change
        // across one call tells exactly whether that very message was dropped.
        var droppedIndexes = new List<int>();
        var sent = 0;
        var extraAfterFirstDrop = SmallCapacity;
        while (sent < MaxStallIterations && (droppedIndexes.Count == 0 || extraAfterFirstDrop-- > 0))
        {
            var before = metrics.Sum(DroppedMessages);
            var sending = connection.SendAsync(payloads[sent]);
            Assert.True(sending.IsCompletedSuccessfully, "A DropNewest send must never wait.");
            await sending;
            var after = metrics.Sum(DroppedMessages);
            Assert.InRange(after - before, 0, 1);
            if (after > before)
            {
                droppedIndexes.Add(sent);
            }

            sent++;
        }

        Assert.NotEmpty(droppedIndexes);
        Assert.True(droppedIndexes[0] >= SmallCapacity, $"Message {droppedIndexes[0]} was dropped before the queue of {SmallCapacity} could be full.");

        var expected = Enumerable.Range(0, sent).Except(droppedIndexes).ToList();
        var frames = await ReceiveDataFramesAsync(client, expected.Count);
        var received = frames.Select(payloads.IndexOf).ToList();

        // Exactly the messages whose send was not dropped, in order: everything up to the first drop is there,
        // and what is lost is the message being sent when the queue was full, never one already queued.
        Assert.Equal(expected, received);
        Assert.Equal(Enumerable.Range(0, droppedIndexes[0]), received.Take(droppedIndexes[0]));
        Assert.Equal(sent - received.Count, metrics.Sum(DroppedMessages));
        Assert.True(connection.IsOpen);

        // Nothing else is on its way: the next message is the sentinel.
        await connection.SendAsync("end").DefaultTimeout();
        Assert.Equal("end", (await client.ReceiveDataFrameAsync().DefaultTimeout()).Text);
        Assert.Empty(host.Logs.WithEventName("SlowConsumer"));
    }

    [Fact]
    public async Task DropOldestMode_ClientStopsReading_LatestMessagesArriveAndEachLossIsCounted()
    {
        var events = new ConnectionEvents();
        await using var host = await StartRegistryHostAsync(events, o =>
        {
            o.SendQueueCapacity = SmallCapacity;
            o.SendQueueFullMode = SendQueueFullMode.DropOldest;
        });
        using var metrics = new MetricRecorder(host.Services.GetRequiredService<IMeterFactory>());
        await using var client = await host.ConnectRawAsync("/ws", receiveBufferSize: StalledClientReceiveBuffer);
        var connection = await events.NextConnectedAsync().DefaultTimeout();
        var payloads = new NumberedPayloads();

        var sent = 0;
        var extraAfterFirstDrop = 2 * SmallCapacity;
        while (sent < MaxStallIterations && (metrics.Sum(DroppedMessages) == 0 || extraAfterFirstDrop-- > 0))
        {
            var sending = connection.SendAsync(payloads[sent++]);
            Assert.True(sending.IsCompletedSuccessfully, "A DropOldest send must never wait.");
            await sending;
        }

        var dropped = metrics.Sum(DroppedMessages);
        Assert.True(dropped > 0, $"No drop counted after {sent} sends.");

        var frames = await ReceiveDataFramesAsync(client, sent - (int)dropped);
        var received = frames.Select(payloads.IndexOf).ToList();

        // In order, the newest messages (the last queue-full of them) all arrive, and the count of lost ones is exact.
        for (var i = 1; i < received.Count; i++)
        {
            Assert.True(received[i] > received[i - 1], $"Message {received[i]} arrived after {received[i - 1]}.");
        }

        Assert.Equal(sent - 1, received[^1]);
        Assert.Equal(Enumerable.Range(sent - SmallCapacity, SmallCapacity), received.TakeLast(SmallCapacity));
        Assert.Equal(sent - received.Count, dropped);
        Assert.True(connection.IsOpen);

        await connection.SendAsync("end").DefaultTimeout();
        Assert.Equal("end", (await client.ReceiveDataFrameAsync().DefaultTimeout()).Text);
        Assert.Equal(dropped, metrics.Sum(DroppedMessages));
    }

    [Fact]
    public async Task CloseMode_ClientStopsReading_SlowClientIsDisconnectedAsSlowConsumerAndOthersKeepReceiving()
    {
        var events = new ConnectionEvents();
        await using var host = await StartRegistryHostAsync(events, o =>
        {
            o.SendQueueCapacity = SmallCapacity; // SendQueueFullMode.Close is the default
            o.CloseTimeout = TimeSpan.FromSeconds(1);
        });
        using var metrics = new MetricRecorder(host.Services.GetRequiredService<IMeterFactory>());
        await using var slow = await host.ConnectRawAsync("/ws", receiveBufferSize: StalledClientReceiveBuffer);
        var slowConnection = await events.NextConnectedAsync().DefaultTimeout();
        using var healthy = await host.ConnectAsync("/ws");
        var healthyConnection = await events.NextConnectedAsync().DefaultTimeout();
        var payloads = new NumberedPayloads();

        var sent = await FillUntilClosedAsync(slowConnection, payloads);

        // The healthy client is not held back while the slow one is stuck; a broadcast skips the closing one.
        await host.Registry.BroadcastAsync("while-slow-one-closes").DefaultTimeout();
        Assert.Equal("while-slow-one-closes", await healthy.ReceiveTextAsync());

        // The slow client never reads again, so it can take neither the rest of message 0 nor a close frame:
        // after CloseTimeout it is aborted, and it leaves as a slow consumer.
        var (disconnected, reason) = await events.NextDisconnectedAsync().DefaultTimeout();
        Assert.Same(slowConnection, disconnected);
        Assert.Equal(DisconnectReason.SlowConsumer, reason);
        Assert.True(slowConnection.ConnectionClosed.IsCancellationRequested);
        Assert.Equal(1, metrics.Sum(Disconnects, DisconnectReasonTag, "slow_consumer"));
        Assert.Equal(1, metrics.Sum(Disconnects));
        var log = await host.Logs.WaitForEventAsync("SlowConsumer").DefaultTimeout();
        Assert.Equal(LogLevel.Warning, log.Level);
        Assert.Single(host.Logs.WithEventName("SlowConsumer"));

        // The queued messages it never got are reported, not silently lost: logged once with their count, and counted.
        var discarded = Assert.Single(host.Logs.WithEventName("QueuedMessagesDiscarded"));
        Assert.Contains("SlowConsumer", discarded.Message, StringComparison.Ordinal);
        var count = int.Parse(System.Text.RegularExpressions.Regex.Match(discarded.Message, @"with (\d+) queued").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(count, SmallCapacity - 1, SmallCapacity);
        Assert.Equal(count, metrics.Sum("websockets.server.discarded_messages"));

        // Sending to it now is harmless, and the healthy client still receives everything.
        await slowConnection.SendAsync(payloads[sent]).DefaultTimeout();
        Assert.True(healthyConnection.IsOpen);
        Assert.Equal(1, host.Registry.Count);
        await host.Registry.BroadcastAsync("after-slow-one-left").DefaultTimeout();
        Assert.Equal("after-slow-one-left", await healthy.ReceiveTextAsync());
    }

    [Fact]
    public async Task CloseMode_SlowClientReadsAgain_GetsOnlyTheInFlightMessageThen1008()
    {
        var events = new ConnectionEvents();
        await using var host = await StartRegistryHostAsync(events, o => o.SendQueueCapacity = SmallCapacity);
        await using var slow = await host.ConnectRawAsync("/ws", receiveBufferSize: StalledClientReceiveBuffer);
        var slowConnection = await events.NextConnectedAsync().DefaultTimeout();
        var payloads = new NumberedPayloads();

        var sent = await FillUntilClosedAsync(slowConnection, payloads);

        // The queue is not flushed: at most message 0, which the write pump was stuck in, arrives; then a 1008.
        var receivedIndexes = new List<int>();
        RawFrame frame;
        while ((frame = await slow.ReceiveDataFrameAsync().DefaultTimeout()).Opcode != RawOpcode.Close)
        {
            Assert.True(receivedIndexes.Count < sent, $"More than the {sent} sent messages arrived.");
            receivedIndexes.Add(payloads.IndexOf(frame));
        }

        Assert.Equal(Enumerable.Range(0, receivedIndexes.Count), receivedIndexes);
        Assert.True(receivedIndexes.Count <= 1, $"{receivedIndexes.Count} of {sent} messages arrived: the queue was flushed.");
        Assert.Equal((ushort)WebSocketCloseStatus.PolicyViolation, frame.CloseStatus);
        await slow.SendCloseAsync((ushort)WebSocketCloseStatus.PolicyViolation).DefaultTimeout();

        var (_, reason) = await events.NextDisconnectedAsync().DefaultTimeout();
        Assert.Equal(DisconnectReason.SlowConsumer, reason);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, slowConnection.CloseStatus);
    }

    // ---- Broadcast -----------------------------------------------------------------------------------------

    [Fact]
    public async Task BroadcastOfObject_SerializesOnceAndEveryClientReceivesIdenticalJson()
    {
        var converter = new CountingTickConverter();
        var events = new ConnectionEvents();
        await using var host = await StartRegistryHostAsync(events, o => o.JsonSerializerOptions.Converters.Add(converter));
        var clients = new List<ClientWebSocket>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                clients.Add(await host.ConnectAsync("/ws"));
                await events.NextConnectedAsync().DefaultTimeout();
            }

            await host.Registry.BroadcastAsync(new Tick(42)).DefaultTimeout();

            foreach (var client in clients)
            {
                var message = await client.ReceiveMessageAsync();
                Assert.Equal(WebSocketMessageType.Text, message.Type);
                Assert.Equal("""{"value":42,"serialization":1}""", message.Text);
            }

            Assert.Equal(1, converter.Writes);
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }
    }

    [Fact]
    public async Task NamespaceBroadcast_ReachesOnlyThatNamespacesClients()
    {
        var events = new ConnectionEvents();
        await using var host = await TestHost.StartAsync(
            s => s.AddSocketRegistry()
                .AddNamespace("chat", events.Hook)
                .AddNamespace(SocketRegistryOptions.DefaultNamespace, events.Hook),
            app =>
            {
                app.MapWebSocketEndpoint("/chat", o => o.Namespace = "chat");
                app.MapWebSocketEndpoint("/ws", _ => { });
            });
        using var chatClient = await host.ConnectAsync("/chat");
        var chatConnection = await events.NextConnectedAsync().DefaultTimeout();
        using var otherClient = await host.ConnectAsync("/ws");
        var otherConnection = await events.NextConnectedAsync().DefaultTimeout();
        Assert.Equal("chat", chatConnection.Namespace);
        Assert.Equal(SocketRegistryOptions.DefaultNamespace, otherConnection.Namespace);

        await host.Registry.BroadcastAsync("to-chat", "chat").DefaultTimeout();
        Assert.Equal("to-chat", await chatClient.ReceiveTextAsync());

        // Had the broadcast been queued to the other client, it would arrive before this later message.
        Assert.True(await host.Registry.SendAsync(otherConnection.Id, SocketMessage.Text("direct")).DefaultTimeout());
        Assert.Equal("direct", await otherClient.ReceiveTextAsync());

        // Without a namespace, a broadcast reaches every namespace, once.
        await host.Registry.BroadcastAsync("everyone").DefaultTimeout();
        Assert.Equal("everyone", await chatClient.ReceiveTextAsync());
        Assert.Equal("everyone", await otherClient.ReceiveTextAsync());
    }

    [Fact]
    public async Task FilteredBroadcast_SkipsTheExcludedConnection()
    {
        var events = new ConnectionEvents();
        await using var host = await StartRegistryHostAsync(events);
        using var includedClient = await host.ConnectAsync("/ws");
        var included = await events.NextConnectedAsync().DefaultTimeout();
        using var excludedClient = await host.ConnectAsync("/ws");
        var excluded = await events.NextConnectedAsync().DefaultTimeout();
        Assert.NotEqual(included.Id, excluded.Id);

        await host.Registry.BroadcastAsync("filtered", filter: c => c.Id != excluded.Id).DefaultTimeout();
        Assert.Equal("filtered", await includedClient.ReceiveTextAsync());

        Assert.True(await host.Registry.SendAsync(excluded.Id, SocketMessage.Text("direct")).DefaultTimeout());
        Assert.Equal("direct", await excludedClient.ReceiveTextAsync());
    }

    [Fact]
    public async Task RegistrySendById_DeliversToThatClientOnlyAndReturnsFalseForUnknownId()
    {
        var events = new ConnectionEvents();
        await using var host = await StartRegistryHostAsync(events);
        using var targetClient = await host.ConnectAsync("/ws");
        var target = await events.NextConnectedAsync().DefaultTimeout();
        using var bystanderClient = await host.ConnectAsync("/ws");
        await events.NextConnectedAsync().DefaultTimeout();

        Assert.True(await host.Registry.SendAsync(target.Id, SocketMessage.Text("only-you")).DefaultTimeout());
        Assert.False(await host.Registry.SendAsync("no-such-connection", SocketMessage.Text("nobody")).DefaultTimeout());

        Assert.Equal("only-you", await targetClient.ReceiveTextAsync());
        await host.Registry.BroadcastAsync("all").DefaultTimeout();
        Assert.Equal("all", await bystanderClient.ReceiveTextAsync());
        Assert.Equal("all", await targetClient.ReceiveTextAsync());
    }

    // ---- SendAsync overloads -------------------------------------------------------------------------------

    [Fact]
    public async Task SendString_ArrivesAsTextFrame()
    {
        var events = new ConnectionEvents();
        await using var host = await StartRegistryHostAsync(events);
        using var client = await host.ConnectAsync("/ws");
        var connection = await events.NextConnectedAsync().DefaultTimeout();

        await connection.SendAsync("héllo wörld").DefaultTimeout();

        var message = await client.ReceiveMessageAsync();
        Assert.Equal(WebSocketMessageType.Text, message.Type);
        Assert.Equal("héllo wörld", message.Text);
    }

    [Fact]
    public async Task SendByteArray_ArrivesAsBinaryFrame()
    {
        var events = new ConnectionEvents();
        await using var host = await StartRegistryHostAsync(events);
        using var client = await host.ConnectAsync("/ws");
        var connection = await events.NextConnectedAsync().DefaultTimeout();

        await connection.SendAsync(new byte[] { 1, 2, 3, 0, 255 }).DefaultTimeout();

        var message = await client.ReceiveMessageAsync();
        Assert.Equal(WebSocketMessageType.Binary, message.Type);
        Assert.Equal(new byte[] { 1, 2, 3, 0, 255 }, message.Data);
    }

    [Fact]
    public async Task SendReadOnlyMemory_ArrivesAsBinaryFrameWithTheBytesAsTheyWereAtTheCall()
    {
        const int Messages = 50;
        var events = new ConnectionEvents();
        await using var host = await StartRegistryHostAsync(events);
        using var client = await host.ConnectAsync("/ws");
        var connection = await events.NextConnectedAsync().DefaultTimeout();

        // One buffer reused for every message, as a caller may: the payload is copied at the call.
        var buffer = new byte[1024];
        for (var i = 0; i < Messages; i++)
        {
            buffer.AsSpan().Fill((byte)i);
            await connection.SendAsync((ReadOnlyMemory<byte>)buffer).DefaultTimeout();
        }

        buffer.AsSpan().Fill(0xFF);

        for (var i = 0; i < Messages; i++)
        {
            var message = await client.ReceiveMessageAsync();
            Assert.Equal(WebSocketMessageType.Binary, message.Type);
            Assert.Equal(buffer.Length, message.Data.Length);
            Assert.True(message.Data.All(b => b == i), $"Message {i} does not hold the bytes it was sent with.");
        }
    }

    [Fact]
    public async Task SendRecord_ArrivesAsCamelCaseJsonTextFrame()
    {
        var events = new ConnectionEvents();
        await using var host = await StartRegistryHostAsync(events);
        using var client = await host.ConnectAsync("/ws");
        var connection = await events.NextConnectedAsync().DefaultTimeout();

        await connection.SendAsync(new OrderPlaced("ann", 3)).DefaultTimeout();

        var message = await client.ReceiveMessageAsync();
        Assert.Equal(WebSocketMessageType.Text, message.Type);
        Assert.Equal("""{"customerName":"ann","itemCount":3}""", message.Text);
    }

    [Fact]
    public async Task SendGenericMemoryOfBytes_ArrivesAsBinaryFrameNotJson()
    {
        var events = new ConnectionEvents();
        await using var host = await StartRegistryHostAsync(events);
        using var client = await host.ConnectAsync("/ws");
        var connection = await events.NextConnectedAsync().DefaultTimeout();

        await connection.SendAsync<Memory<byte>>(new byte[] { 9, 8, 7 }).DefaultTimeout();

        var message = await client.ReceiveMessageAsync();
        Assert.Equal(WebSocketMessageType.Binary, message.Type);
        Assert.Equal(new byte[] { 9, 8, 7 }, message.Data);
    }

    // ---- Incoming size limit -------------------------------------------------------------------------------

    [Fact]
    public async Task MessageOverMaxMessageSize_ClosesWith1009()
    {
        var events = new ConnectionEvents();
        await using var host = await StartEchoHostAsync(events);
        using var client = await host.ConnectAsync("/echo");
        await events.NextConnectedAsync().DefaultTimeout();

        await client.SendBinaryAsync(new byte[2000]);

        Assert.Equal(WebSocketCloseStatus.MessageTooBig, await client.ReceiveCloseAsync());
        var (_, reason) = await events.NextDisconnectedAsync().DefaultTimeout();
        Assert.Equal(DisconnectReason.MessageTooBig, reason);
    }

    [Fact]
    public async Task MessageOfExactlyMaxMessageSize_IsAcceptedIntact()
    {
        var events = new ConnectionEvents();
        await using var host = await StartEchoHostAsync(events);
        using var client = await host.ConnectAsync("/echo");
        var payload = Pattern(1024);

        await client.SendBinaryAsync(payload);

        var echo = await client.ReceiveMessageAsync();
        Assert.Equal(WebSocketMessageType.Binary, echo.Type);
        Assert.Equal(payload, echo.Data);
    }

    [Fact]
    public async Task FragmentedMessageOfExactlyMaxMessageSize_IsAcceptedIntact()
    {
        var events = new ConnectionEvents();
        await using var host = await StartEchoHostAsync(events);
        await using var client = await host.ConnectRawAsync("/echo");
        var payload = Pattern(1024);

        await client.SendFrameAsync(RawOpcode.Binary, payload.AsMemory(0, 300), fin: false).DefaultTimeout();
        await client.SendFrameAsync(RawOpcode.Continuation, payload.AsMemory(300, 400), fin: false).DefaultTimeout();
        await client.SendFrameAsync(RawOpcode.Continuation, payload.AsMemory(700), fin: true).DefaultTimeout();

        var echo = await client.ReceiveDataFrameAsync().DefaultTimeout();
        Assert.Equal(RawOpcode.Binary, echo.Opcode);
        Assert.True(echo.Fin);
        Assert.Equal(payload, echo.Payload);
    }

    [Fact]
    public async Task EmptyMessage_IsHandledAsAMessageOfItsOwn()
    {
        var events = new ConnectionEvents();
        await using var host = await StartEchoHostAsync(events);
        await using var client = await host.ConnectRawAsync("/echo");

        await client.SendBinaryAsync(ReadOnlyMemory<byte>.Empty).DefaultTimeout();
        await client.SendBinaryAsync(new byte[] { 1, 2, 3 }).DefaultTimeout();

        var first = await client.ReceiveDataFrameAsync().DefaultTimeout();
        Assert.Equal(RawOpcode.Binary, first.Opcode);
        Assert.Empty(first.Payload);
        var second = await client.ReceiveDataFrameAsync().DefaultTimeout();
        Assert.Equal(RawOpcode.Binary, second.Opcode);
        Assert.Equal(new byte[] { 1, 2, 3 }, second.Payload);
    }

    [Fact]
    public async Task FragmentedMessageOverMaxMessageSize_ClosesWith1009()
    {
        var events = new ConnectionEvents();
        await using var host = await StartEchoHostAsync(events);
        await using var client = await host.ConnectRawAsync("/echo");
        var payload = Pattern(1025);

        // Each fragment is within the limit; the message is not.
        await client.SendFrameAsync(RawOpcode.Binary, payload.AsMemory(0, 1000), fin: false).DefaultTimeout();
        await client.SendFrameAsync(RawOpcode.Continuation, payload.AsMemory(1000), fin: true).DefaultTimeout();

        var frame = await client.ReceiveDataFrameAsync().DefaultTimeout();
        Assert.Equal(RawOpcode.Close, frame.Opcode);
        Assert.Equal((ushort)WebSocketCloseStatus.MessageTooBig, frame.CloseStatus);
    }

    // ---- Sending to a closed connection --------------------------------------------------------------------

    [Fact]
    public async Task SendAfterClientClosed_CompletesWithoutThrowingAndIsDiscarded()
    {
        var events = new ConnectionEvents();
        await using var host = await StartRegistryHostAsync(events);
        using var metrics = new MetricRecorder(host.Services.GetRequiredService<IMeterFactory>());
        using var client = await host.ConnectAsync("/ws");
        var connection = await events.NextConnectedAsync().DefaultTimeout();

        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None).DefaultTimeout();
        var (disconnected, reason) = await events.NextDisconnectedAsync().DefaultTimeout();
        Assert.Same(connection, disconnected);
        Assert.Equal(DisconnectReason.ClientClosed, reason);

        Assert.False(connection.IsOpen);
        Assert.True(connection.ConnectionClosed.IsCancellationRequested);
        var sends = new[]
        {
            connection.SendAsync("text"),
            connection.SendAsync(new byte[] { 1 }),
            connection.SendAsync((ReadOnlyMemory<byte>)new byte[] { 2 }),
            connection.SendAsync(new OrderPlaced("ann", 1)),
            connection.SendAsync(SocketMessage.Binary(new byte[] { 3 })),
        };
        foreach (var send in sends)
        {
            Assert.True(send.IsCompletedSuccessfully);
            await send;
        }

        Assert.False(await host.Registry.SendAsync(connection.Id, SocketMessage.Text("late")).DefaultTimeout());
        await host.Registry.BroadcastAsync("late").DefaultTimeout();
        Assert.Equal(0, metrics.Sum(DroppedMessages));
        Assert.Equal(0, host.Registry.Count);
    }

    [Fact]
    public async Task SendAfterServerClose_IsDiscardedWhileEarlierMessagesAreFlushed()
    {
        var events = new ConnectionEvents();
        await using var host = await StartRegistryHostAsync(events);
        using var client = await host.ConnectAsync("/ws");
        var connection = await events.NextConnectedAsync().DefaultTimeout();
        var closedSignal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var registration = connection.ConnectionClosed.Register(() => closedSignal.TrySetResult());

        await connection.SendAsync("before").DefaultTimeout();
        var closing = connection.CloseAsync(WebSocketCloseStatus.NormalClosure, "done");
        Assert.False(connection.IsOpen);
        var late = connection.SendAsync("after");
        Assert.True(late.IsCompletedSuccessfully);
        await late;

        Assert.Equal("before", await client.ReceiveTextAsync());
        var close = await client.ReceiveMessageAsync();
        Assert.Equal(WebSocketMessageType.Close, close.Type);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, client.CloseStatus);
        Assert.Equal("done", client.CloseStatusDescription);
        await client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).DefaultTimeout();

        await closing.DefaultTimeout();
        await closedSignal.Task.DefaultTimeout();
        var (_, reason) = await events.NextDisconnectedAsync().DefaultTimeout();
        Assert.Equal(DisconnectReason.ServerClosed, reason);
    }

    // ---- Helpers -------------------------------------------------------------------------------------------

    /// <summary>
    /// A host whose "/ws" endpoint (default namespace, no handler) reports its connections to <paramref name="events"/>.
    /// Keep-alive pings are off: the raw client never answers them, and a stalled write pump is the point of some tests.
    /// </summary>
    private static Task<TestHost> StartRegistryHostAsync(ConnectionEvents events, Action<SocketRegistryOptions>? configure = null)
        => TestHost.StartAsync(
            s => s.AddSocketRegistry(configure).AddNamespace(SocketRegistryOptions.DefaultNamespace, events.Hook),
            app => app.MapWebSocketEndpoint("/ws", o => o.KeepAliveInterval = TimeSpan.Zero));

    /// <summary>A host whose "/echo" endpoint echoes every message as binary, with a 1024-byte limit on incoming messages.</summary>
    private static Task<TestHost> StartEchoHostAsync(ConnectionEvents events)
        => TestHost.StartAsync(
            s => s.AddSocketRegistry().AddNamespace(SocketRegistryOptions.DefaultNamespace, events.Hook),
            app => app.MapWebSocketEndpoint("/echo", (byte[] data) => data, o =>
            {
                o.MaxMessageSize = 1024;
                o.ReceiveBufferSize = 256; // so the buffer has to grow to take a whole message
                o.KeepAliveInterval = TimeSpan.Zero;
            }));

    private static byte[] Pattern(int length)
    {
        var bytes = new byte[length];
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)((i * 7) + (i >> 8));
        }

        return bytes;
    }

    /// <summary>Reads exactly <paramref name="count"/> data frames, skipping pings; fails on a close frame.</summary>
    private static async Task<List<RawFrame>> ReceiveDataFramesAsync(RawWebSocketClient client, int count)
    {
        var frames = new List<RawFrame>(count);
        while (frames.Count < count)
        {
            var frame = await client.ReceiveDataFrameAsync().DefaultTimeout();
            if (frame.Opcode == RawOpcode.Close)
            {
                Assert.Fail($"The connection closed after {frames.Count} of {count} expected messages: {frame}.");
            }

            frames.Add(frame);
        }

        return frames;
    }

    /// <summary>
    /// In <see cref="SendQueueFullMode.Wait"/>, to a client that reads nothing: queues the blocker (message 0) and
    /// then as many messages as the queue holds. None of these sends needs the client: the write pump takes the blocker
    /// and stays stuck in it. So the queue is now full, and stays full until the client reads. Returns how many were sent.
    /// </summary>
    private static async Task<int> FillWhileClientIsStalledAsync(ISocketConnection connection, NumberedPayloads payloads)
    {
        for (var i = 0; i <= SmallCapacity; i++)
        {
            await connection.SendAsync(payloads[i]).DefaultTimeout();
        }

        return SmallCapacity + 1;
    }

    /// <summary>In <see cref="SendQueueFullMode.Close"/>: sends numbered messages until the connection closes; returns how many were sent.</summary>
    private static async Task<int> FillUntilClosedAsync(ISocketConnection connection, NumberedPayloads payloads)
    {
        var sent = 0;
        while (connection.IsOpen && sent < MaxStallIterations)
        {
            var sending = connection.SendAsync(payloads[sent++]);
            Assert.True(sending.IsCompletedSuccessfully, "A send in Close mode must never wait.");
            await sending;
        }

        Assert.False(connection.IsOpen, $"Still open after {sent} sends to a client that does not read.");
        Assert.True(sent > SmallCapacity, $"Closed after only {sent} sends; the queue holds {SmallCapacity}.");
        return sent;
    }

    /// <summary>Hands over connections as their namespace's hooks see them join and leave.</summary>
    private sealed class ConnectionEvents
    {
        private readonly Channel<ISocketConnection> _connected = Channel.CreateUnbounded<ISocketConnection>();
        private readonly Channel<(ISocketConnection Connection, DisconnectReason Reason)> _disconnected =
            Channel.CreateUnbounded<(ISocketConnection Connection, DisconnectReason Reason)>();

        public void Hook(SocketNamespaceBuilder ns)
        {
            ns.OnConnected((connection, _) =>
            {
                _connected.Writer.TryWrite(connection);
                return Task.CompletedTask;
            });
            ns.OnDisconnected((connection, reason, _) =>
            {
                _disconnected.Writer.TryWrite((connection, reason));
                return Task.CompletedTask;
            });
        }

        public Task<ISocketConnection> NextConnectedAsync() => _connected.Reader.ReadAsync().AsTask();

        public Task<(ISocketConnection Connection, DisconnectReason Reason)> NextDisconnectedAsync() => _disconnected.Reader.ReadAsync().AsTask();
    }

    /// <summary>
    /// Numbered binary messages whose first four bytes hold their index (little-endian), made without a big
    /// allocation per message. Message 0 is a 16 MiB zero-filled blocker: more than the socket buffers of a connection
    /// whose client does not read can take, so a write pump that has it stays stuck until the client reads.
    /// Message <c>i &gt; 0</c> is the 256 KiB window of one shared buffer that starts at byte <c>4 * i</c>, where the
    /// buffer holds the int <c>i</c>; the rest of the window is a known padding.
    /// </summary>
    private sealed class NumberedPayloads
    {
        private readonly byte[] _blocker = new byte[BlockerSize];
        private readonly byte[] _buffer = new byte[BigMessageSize + (sizeof(int) * MaxStallIterations)];

        public NumberedPayloads()
        {
            for (var i = 0; (i * sizeof(int)) + sizeof(int) <= _buffer.Length; i++)
            {
                BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(i * sizeof(int)), i);
            }
        }

        public SocketMessage this[int index] => index == 0
            ? SocketMessage.Binary(_blocker)
            : SocketMessage.Binary(_buffer.AsMemory(index * sizeof(int), BigMessageSize));

        /// <summary>Checks that the frame is one whole, intact numbered message and returns its index.</summary>
        public int IndexOf(RawFrame frame)
        {
            Assert.Equal(RawOpcode.Binary, frame.Opcode);
            Assert.True(frame.Fin);
            Assert.True(frame.Payload.Length >= sizeof(int), $"A {frame.Payload.Length}-byte message is not a numbered one.");
            var index = BinaryPrimitives.ReadInt32LittleEndian(frame.Payload);
            Assert.InRange(index, 0, MaxStallIterations - 1);
            var expected = index == 0 ? _blocker : _buffer.AsSpan(index * sizeof(int), BigMessageSize);
            Assert.Equal(expected.Length, frame.Payload.Length);
            Assert.True(frame.Payload.AsSpan().SequenceEqual(expected), $"Message {index} arrived corrupted.");
            return index;
        }
    }

    /// <summary>Writes a <see cref="Tick"/> with the number of this very call, so a second serialization shows.</summary>
    private sealed class CountingTickConverter : JsonConverter<Tick>
    {
        private int _writes;

        public int Writes => Volatile.Read(ref _writes);

        public override Tick Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => throw new NotSupportedException();

        public override void Write(Utf8JsonWriter writer, Tick value, JsonSerializerOptions options)
        {
            var call = Interlocked.Increment(ref _writes);
            writer.WriteStartObject();
            writer.WriteNumber("value", value.Value);
            writer.WriteNumber("serialization", call);
            writer.WriteEndObject();
        }
    }
}
