using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;
using WebSockets.Internal;
using WebSockets.Tests.Infrastructure;
using WebSockets.Tests.Redis;

namespace WebSockets.Tests;

/// <summary>
/// Issue 9: the metrics on the <c>WebSockets</c> meter, the spans of the <c>WebSockets</c> activity source (also across
/// the backplane), the log levels of a client that goes away, and the registry's health check, against a real Kestrel.
/// </summary>
public sealed class ObservabilityTests(ITestOutputHelper output)
{
    private const string NamespaceTag = "websockets.namespace";

    private static string NewNamespace(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    // ---- Metrics -------------------------------------------------------------------------------------------

    [Fact]
    public async Task Metrics_CountConnectsMessagesAndBytesInAndOut_AndTimeHandlersPerEvent()
    {
        var ns = NewNamespace("metrics");
        await using var host = await TestHost.StartAsync(
            s => s.AddSocketRegistry().AddNamespace(ns, n => n
                .On<string, string>("echo", (socket, text, ct) => Task.FromResult(text))
                .On("boom", (Func<string>)(() => throw new InvalidOperationException("broken")))),
            app => app.MapWebSocketEndpoint("/ws", ns));
        using var metrics = new MetricRecorder(host.Services.GetRequiredService<IMeterFactory>());

        using var socket = await host.ConnectAsync("/ws");
        var request = """{"event":"echo","data":"hello","id":1}""";
        await socket.SendTextAsync(request);
        var reply = await socket.ReceiveMessageAsync().DefaultTimeout();
        await socket.SendTextAsync("""{"event":"boom","id":2}""");
        var error = await socket.ReceiveMessageAsync().DefaultTimeout();
        Assert.Equal("handler_failed", error.Json.GetProperty("error").GetProperty("code").GetString());

        await Poll.UntilAsync(() => metrics.Sum("websockets.server.messages_sent", NamespaceTag, ns) == 2, "both replies to be counted as sent");
        Assert.Equal(1, metrics.Sum("websockets.server.connects", NamespaceTag, ns));
        Assert.Equal(2, metrics.Sum("websockets.server.messages_received", NamespaceTag, ns));
        Assert.Equal(Encoding.UTF8.GetByteCount(request) + """{"event":"boom","id":2}""".Length, metrics.Sum("websockets.server.bytes_received", NamespaceTag, ns));
        Assert.Equal(reply.Data.Length + error.Data.Length, metrics.Sum("websockets.server.bytes_sent", NamespaceTag, ns));

        var durations = metrics.Doubles("websockets.server.handler.duration").Where(m => Equals(m.Tags.GetValueOrDefault(NamespaceTag), ns)).ToList();
        Assert.Equal(2, durations.Count);
        var echo = Assert.Single(durations, m => Equals(m.Tags.GetValueOrDefault("websockets.event.name"), "echo"));
        Assert.False(echo.Tags.ContainsKey("error.type"));
        Assert.InRange(echo.Value, 0, 30);
        var boom = Assert.Single(durations, m => Equals(m.Tags.GetValueOrDefault("websockets.event.name"), "boom"));
        Assert.Equal("System.InvalidOperationException", boom.Tags["error.type"]);
    }

    [Fact]
    public async Task QueuedMessages_AreObservedPerNamespace_WhileAClientDoesNotRead()
    {
        var ns = NewNamespace("queue");
        var connected = new TaskCompletionSource<ISocketConnection>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = await TestHost.StartAsync(
            s => s.AddSocketRegistry().AddNamespace(ns, n => n.OnConnected((socket, ct) =>
            {
                connected.TrySetResult(socket);
                return Task.CompletedTask;
            })),
            app => app.MapWebSocketEndpoint("/ws", ns));
        using var metrics = new MetricRecorder(host.Services.GetRequiredService<IMeterFactory>());
        await using var client = await host.ConnectRawAsync("/ws", receiveBufferSize: 4096);
        var connection = await connected.Task.DefaultTimeout();

        // A message far larger than the socket buffers holds the write pump; what follows waits in the queue.
        await connection.SendAsync(new byte[16 * 1024 * 1024]).DefaultTimeout();
        for (var i = 0; i < 10; i++)
        {
            await connection.SendAsync("queued " + i).DefaultTimeout();
        }

        Assert.InRange(metrics.Observe("websockets.server.queued_messages", NamespaceTag, ns) ?? -1, 10, 11);
        Assert.Equal(0, metrics.Observe("websockets.server.queued_messages", NamespaceTag, "default"));
        connection.Abort();
    }

    [Fact]
    public async Task RequestTimeouts_AreCounted()
    {
        var ns = NewNamespace("timeout");
        await using var host = await TestHost.StartAsync(
            s => s.AddSocketRegistry().AddNamespace(ns, n => n.On("ask", async (ISocketConnection socket) =>
            {
                try
                {
                    return await socket.RequestAsync<string>("question", timeout: TimeSpan.FromMilliseconds(100));
                }
                catch (TimeoutException)
                {
                    return "no answer";
                }
            })),
            app => app.MapWebSocketEndpoint("/ws", ns));
        using var metrics = new MetricRecorder(host.Services.GetRequiredService<IMeterFactory>());
        using var socket = await host.ConnectAsync("/ws");

        await socket.SendTextAsync("""{"event":"ask","id":1}""");
        Assert.Equal("question", (await socket.ReceiveMessageAsync().DefaultTimeout()).Json.GetProperty("event").GetString());
        var reply = (await socket.ReceiveMessageAsync().DefaultTimeout()).Json;
        Assert.Equal("no answer", reply.GetProperty("data").GetString());
        Assert.Equal(1, metrics.Sum("websockets.server.request_timeouts", NamespaceTag, ns));
    }

    /// <summary>
    /// With a listener on every instrument, routing an event and a request through the dispatcher allocates exactly what
    /// it allocates without one: the instruments themselves add nothing per message.
    /// </summary>
    [Fact]
    public void HotPath_AllocatesNothingMoreWithMetricsListening()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSocketRegistry().AddNamespace("chat", ns => ns
            .On<string>("chat.send", (socket, text, ct) => Task.CompletedTask)
            .On("chat.echo", (string text) => text));
        using var provider = services.BuildServiceProvider();
        var registry = provider.GetRequiredService<SocketRegistry>();
        Assert.True(registry.TryGetNamespace("chat", out var state));
        var dispatcher = new EventDispatcher(state, registry, provider);
        var connection = new SocketConnection("c1", new Microsoft.AspNetCore.Http.DefaultHttpContext(), null, registry, new EndpointRuntime(new WebSocketEndpointOptions(), state, dispatcher), state);
        var send = SocketMessage.Text("""{"event":"chat.send","data":"hello"}""");
        var echo = SocketMessage.Text("""{"event":"chat.echo","data":"hello","id":42}""");
        var queue = (System.Threading.Channels.Channel<SocketMessage>)typeof(SocketConnection)
            .GetField("_queue", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(connection)!;

        long PerMessage()
        {
            const int Messages = 2000;
            for (var warmUp = 0; warmUp < 3; warmUp++)
            {
                var before = GC.GetAllocatedBytesForCurrentThread();
                for (var i = 0; i < Messages; i++)
                {
                    dispatcher.HandleAsync(connection, send, CancellationToken.None).GetAwaiter().GetResult();
                    dispatcher.HandleAsync(connection, echo, CancellationToken.None).GetAwaiter().GetResult();
                    queue.Reader.TryRead(out _);
                }

                if (warmUp == 2)
                {
                    return (GC.GetAllocatedBytesForCurrentThread() - before) / Messages;
                }
            }

            return -1;
        }

        var without = PerMessage();
        long measured = 0;
        using (var listener = new MeterListener())
        {
            var meterFactory = provider.GetRequiredService<IMeterFactory>();
            listener.InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter.Scope, meterFactory))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            listener.SetMeasurementEventCallback<long>((_, value, _, _) => measured += value);
            listener.SetMeasurementEventCallback<double>((_, _, _, _) => measured++);
            listener.Start();
            var with = PerMessage();
            output.WriteLine($"Allocated per event + request (both routed, reply queued): {without} B without a listener, {with} B with one.");
            Assert.True(measured > 0, "The listener saw no measurement.");
            Assert.Equal(without, with);
        }

        // For the record, not asserted: what a span per message costs when a tracer samples every one.
        using var spans = new SpanRecorder(keep: false);
        output.WriteLine($"With every span sampled: {PerMessage()} B.");
    }

    // ---- Traces --------------------------------------------------------------------------------------------

    /// <summary>Collects the stopped spans of the WebSockets source whose namespace (or event) belongs to one test.</summary>
    private sealed class SpanRecorder : IDisposable
    {
        private readonly ActivityListener _listener;
        private readonly ConcurrentQueue<Activity> _stopped = new();

        public SpanRecorder(bool keep = true)
        {
            _listener = new ActivityListener
            {
                ShouldListenTo = source => source.Name == SocketTelemetry.ActivitySourceName,
                Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
                ActivityStopped = keep ? _stopped.Enqueue : null,
            };
            ActivitySource.AddActivityListener(_listener);
        }

        public IReadOnlyList<Activity> Where(Func<Activity, bool> match) => [.. _stopped.Where(match)];

        public async Task<Activity> WaitForAsync(Func<Activity, bool> match, string what)
        {
            await Poll.UntilAsync(() => _stopped.Any(match), what);
            return _stopped.First(match);
        }

        public void Dispose() => _listener.Dispose();
    }

    [Fact]
    public async Task Spans_OnePerHandledMessage_WithTags_AndErrorStatusForAFailingHandler()
    {
        var ns = NewNamespace("spans");
        using var spans = new SpanRecorder();
        await using var host = await TestHost.StartAsync(
            s => s.AddSocketRegistry(o => o.ConnectionIdGenerator = c => c.Request.Query["id"].ToString())
                .AddNamespace(ns, n => n
                    .On<string, string>("echo", (socket, text, ct) => Task.FromResult(text))
                    .On("boom", (Func<string>)(() => throw new InvalidOperationException("broken")))),
            app =>
            {
                app.MapWebSocketEndpoint("/ws", ns);
                app.MapWebSocketEndpoint("/raw", (string text) => text.ToUpperInvariant(), o => o.Namespace = ns);
            });
        using var socket = await host.ConnectAsync("/ws?id=client-1");
        await socket.SendTextAsync("""{"event":"echo","data":"hi","id":7}""");
        await socket.ReceiveMessageAsync().DefaultTimeout();
        await socket.SendTextAsync("""{"event":"boom"}""");
        await socket.ReceiveMessageAsync().DefaultTimeout();
        using var raw = await host.ConnectAsync("/raw?id=client-2");
        await raw.SendTextAsync("shout");
        Assert.Equal("SHOUT", await raw.ReceiveTextAsync().DefaultTimeout());

        bool Ours(Activity a) => Equals(a.GetTagItem(NamespaceTag), ns);
        var echo = await spans.WaitForAsync(a => Ours(a) && a.DisplayName == ns + "/echo", "the echo span");
        Assert.Equal(SocketTelemetry.HandleMessageActivityName, echo.OperationName);
        Assert.Equal(ActivityKind.Server, echo.Kind);
        Assert.Equal("echo", echo.GetTagItem("websockets.event.name"));
        Assert.Equal("client-1", echo.GetTagItem("websockets.connection.id"));
        Assert.Equal(7L, echo.GetTagItem("websockets.request.id"));
        Assert.Equal(ActivityStatusCode.Unset, echo.Status);
        Assert.Null(echo.Parent); // a root: the upgrade request's span lasts as long as the connection

        var boom = await spans.WaitForAsync(a => Ours(a) && a.DisplayName == ns + "/boom", "the failing handler's span");
        Assert.Equal(ActivityStatusCode.Error, boom.Status);
        Assert.Equal("System.InvalidOperationException", boom.GetTagItem("error.type"));
        Assert.Contains(boom.Events, e => e.Name == "exception");

        var message = await spans.WaitForAsync(a => Ours(a) && a.DisplayName == ns + "/(message)", "the raw handler's span");
        Assert.Equal("client-2", message.GetTagItem("websockets.connection.id"));
        Assert.Null(message.GetTagItem("websockets.event.name"));
        Assert.Equal(2, spans.Where(a => Ours(a) && a.OperationName == SocketTelemetry.HandleMessageActivityName && (string?)a.GetTagItem("websockets.connection.id") == "client-1").Count);
    }

    [Fact]
    public async Task Backplane_CarriesTraceContextAndPublishTime_ToTheServerThatDelivers()
    {
        var ns = NewNamespace("cluster");
        var bus = new InMemoryBackplaneBus();
        Task<TestHost> StartAsync() => TestHost.StartAsync(
            s =>
            {
                s.AddSocketRegistry().AddNamespace(ns, n => n.On<string>("shout", (socket, text, ct) => socket.BroadcastAsync("heard", text, ct).AsTask()));
                s.AddSingleton<SocketBackplane>(new InMemorySocketBackplane(bus));
            },
            app => app.MapWebSocketEndpoint("/ws", ns));
        using var spans = new SpanRecorder();
        await using var a = await StartAsync();
        await using var b = await StartAsync();
        using var metricsB = new MetricRecorder(b.Services.GetRequiredService<IMeterFactory>());
        using var sender = await a.ConnectAsync("/ws");
        using var listener = await b.ConnectAsync("/ws");

        await sender.SendTextAsync("""{"event":"shout","data":"hello"}""");
        var heard = (await listener.ReceiveMessageAsync().DefaultTimeout()).Json;
        Assert.Equal("hello", heard.GetProperty("data").GetString());

        var handled = await spans.WaitForAsync(x => Equals(x.GetTagItem(NamespaceTag), ns) && x.DisplayName == ns + "/shout", "the publisher's handler span");
        var delivered = await spans.WaitForAsync(
            x => x.OperationName == SocketTelemetry.DeliverActivityName && x.TraceId == handled.TraceId, "the delivery span in the publisher's trace");
        Assert.Equal(handled.SpanId, delivered.ParentSpanId);
        Assert.Equal(ActivityKind.Consumer, delivered.Kind);
        Assert.Equal("emit", delivered.GetTagItem("websockets.backplane.operation"));
        Assert.Equal("heard", delivered.GetTagItem("websockets.event.name"));
        Assert.Equal(1, delivered.GetTagItem("websockets.backplane.recipients"));

        var lag = Assert.Single(metricsB.Doubles("websockets.backplane.lag"));
        Assert.InRange(lag.Value, 0, 30);
    }

    [Fact]
    public void ClusterMessage_Version1_IsStillRead_AndTheTrailerRoundTrips()
    {
        var target = new AudienceTarget { Rooms = ["lobby"] };
        var v2 = ClusterMessage.Emit(target, "news", SocketMessage.Text("{}"), null, new ClusterMessage.Trailer(638_000_000_000_000_000, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "k=v"));
        Assert.Equal(2, v2[0]);
        Assert.True(ClusterMessage.TryDecode(v2, out var decoded));
        Assert.Equal(638_000_000_000_000_000, decoded.SentAtTicks);
        Assert.Equal("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", Encoding.UTF8.GetString(decoded.TraceParent.Span));
        Assert.Equal("k=v", Encoding.UTF8.GetString(decoded.TraceState.Span));

        // A later version-2 writer may append trailer fields: they are skipped.
        Assert.True(ClusterMessage.TryDecode((byte[])[.. v2, 0xFF, 0xFF], out _));

        // Version 1 (no trailer) is what servers before it publish.
        var noTrailer = ClusterMessage.Emit(target, "news", SocketMessage.Text("{}"), null);
        var v1 = noTrailer[..^1];
        v1[0] = 1;
        Assert.True(ClusterMessage.TryDecode(v1, out var old));
        Assert.Equal("news", old.EventName);
        Assert.Equal(0, old.SentAtTicks);
        Assert.False(ClusterMessage.TryDecode((byte[])[.. v1, 0], out _));
    }

    // ---- Logs ----------------------------------------------------------------------------------------------

    [Fact]
    public async Task ClientGoingAway_WhileABinaryHandlerAwaitsItsReply_IsNotLoggedAsAnError()
    {
        var ns = NewNamespace("away");
        var asked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = await TestHost.StartAsync(
            s => s.AddSocketRegistry().AddNamespace(ns, n => n.OnBinary(async (ISocketConnection socket, byte[] data) =>
            {
                var asking = socket.RequestAsync<string>("question");
                asked.TrySetResult();
                return await asking;
            })),
            app => app.MapWebSocketEndpoint("/ws", ns));
        var socket = await host.ConnectAsync("/ws");
        await socket.SendBinaryAsync([1, 2, 3]);
        await asked.Task.DefaultTimeout();
        Assert.Equal("question", (await socket.ReceiveMessageAsync().DefaultTimeout()).Json.GetProperty("event").GetString());
        socket.Abort();
        socket.Dispose();

        await host.Logs.WaitForEventAsync("HandlerEndedByClose").DefaultTimeout();
        await host.Logs.WaitForEventAsync("Disconnected").DefaultTimeout();
        Assert.DoesNotContain(host.Logs.Records, r => r.Level >= LogLevel.Error);
    }

    [Fact]
    public async Task ConnectHookCanceledByTheConnectionEnding_IsNotLoggedAsAnError()
    {
        var ns = NewNamespace("hook");
        await using var host = await TestHost.StartAsync(
            s => s.AddSocketRegistry().AddNamespace(ns, n => n.OnConnected(async (socket, ct) =>
            {
                socket.Abort();
                await Task.Delay(Timeout.Infinite, ct);
            })),
            app => app.MapWebSocketEndpoint("/ws", ns));
        using var socket = await host.ConnectAsync("/ws");

        await host.Logs.WaitForEventAsync("ConnectedHookCanceled").DefaultTimeout();
        await host.Logs.WaitForEventAsync("Disconnected").DefaultTimeout();
        Assert.DoesNotContain(host.Logs.Records, r => r.Level >= LogLevel.Error);
    }

    // ---- Health --------------------------------------------------------------------------------------------

    [Fact]
    public async Task HealthCheck_IsHealthyWhileRunning_AndUnhealthyWhileDraining()
    {
        await using var host = await TestHost.StartAsync(
            s =>
            {
                s.AddSocketRegistry();
                s.AddHealthChecks().AddSocketRegistry();
            },
            app =>
            {
                app.MapWebSocketEndpoint("/ws", (string text) => text);
                app.MapHealthChecks("/health");
            });
        using var http = new HttpClient { BaseAddress = host.BaseUri };

        var healthy = await http.GetAsync("/health").DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, healthy.StatusCode);
        Assert.Equal("Healthy", await healthy.Content.ReadAsStringAsync());

        var report = await host.Services.GetRequiredService<Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckService>().CheckHealthAsync().DefaultTimeout();
        var entry = report.Entries["websockets"];
        Assert.Equal(0, entry.Data["connections"]);
        Assert.Equal(host.RegistryInternal.ServerId, entry.Data["server_id"]);

        // The registry drains (as at shutdown) while the web server still answers.
        await host.RegistryInternal.StopAsync(CancellationToken.None).DefaultTimeout();
        var draining = await http.GetAsync("/health").DefaultTimeout();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, draining.StatusCode);
        Assert.Equal("Unhealthy", await draining.Content.ReadAsStringAsync());
    }
}
