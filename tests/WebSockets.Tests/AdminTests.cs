using System.Net;
using System.Net.WebSockets;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using WebSockets.Internal;
using WebSockets.Tests.Infrastructure;

namespace WebSockets.Tests;

/// <summary>
/// Issue 9 point 5: the admin endpoint (MapWebSocketAdmin). Authorization by default, the stats JSON against real
/// traffic, the dashboard page and its Content-Security-Policy, the connection list, and disconnects here and across a
/// cluster, with the CSRF header.
/// </summary>
public sealed class AdminTests
{
    private const string Admin = "/admin/sockets";
    private const string TestScheme = "Test";
    private const string UserHeader = "X-Test-User";
    private const string RoleHeader = "X-Test-Role";

    // ---- Authorization -------------------------------------------------------------------------------------

    [Fact]
    public async Task EveryRoute_WithoutAuthentication_Is401()
    {
        await using var host = await StartAsync();
        using var http = Client(host, user: null);

        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync(Admin)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync(Admin + "/stats")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync(Admin + "/connections")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await PostDisconnectAsync(http, "anything")).StatusCode);
    }

    [Fact]
    public async Task AppPolicy_AppliesOnTopOfAuthentication_403WithoutTheRole()
    {
        await using var host = await StartAsync(admin: b => b.RequireAuthorization("admins"));
        using var user = Client(host, "bob");
        using var admin = Client(host, "alice", role: "admin");

        Assert.Equal(HttpStatusCode.Forbidden, (await user.GetAsync(Admin + "/stats")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await PostDisconnectAsync(user, "anything")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync(Admin + "/stats")).StatusCode);
    }

    [Fact]
    public async Task AllowAnonymous_LiftsTheRequirement_ForLocalDevelopment()
    {
        await using var host = await StartAsync(admin: b => b.AllowAnonymous());
        using var http = Client(host, user: null);

        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(Admin + "/stats")).StatusCode);
    }

    [Fact]
    public async Task MapWebSocketAdmin_WithoutAddAuthorization_ThrowsWithTheFix()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => TestHost.StartAsync(
            s => s.AddSocketRegistry(),
            app => app.MapWebSocketAdmin(Admin)));

        Assert.Contains("AddAuthorization()", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_RefuseOutOfRangeValues()
    {
        var options = new WebSocketAdminOptions();
        Assert.Equal(20, options.MaxRooms);
        Assert.Equal(500, options.MaxConnectionsPerPage);
        Assert.True(options.AllowDisconnect);
        Assert.Throws<ArgumentOutOfRangeException>(() => options.MaxRooms = 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => options.MaxConnectionsPerPage = 10_001);
    }

    // ---- Stats ---------------------------------------------------------------------------------------------

    [Fact]
    public async Task Stats_ReflectConnectionsNamespacesRoomsQueuesAndRates()
    {
        await using var host = await StartAsync();
        using var http = Client(host, "alice");
        using var a = await ConnectAsync(host, "a", "chat", user: "ua");
        using var b = await ConnectAsync(host, "b", "chat");
        using var c = await ConnectAsync(host, "c", "chat");
        await using var slow = await host.ConnectRawAsync("/ws/news?id=slow", receiveBufferSize: 4096);
        await JoinAsync(a, "lobby");
        await JoinAsync(b, "lobby");
        await JoinAsync(c, "lobby");
        await JoinAsync(a, "quiet");
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal("ping " + i, (await a.RequestAsync("echo", "ping " + i)).GetProperty("data").GetString());
        }

        // A message far larger than the socket buffers holds the slow client's write pump; what follows waits in its queue.
        Assert.True(host.Registry.TryGetConnection("slow", out var slowConnection));
        await slowConnection.SendAsync(new byte[16 * 1024 * 1024]).DefaultTimeout();
        for (var i = 0; i < 10; i++)
        {
            await slowConnection.SendAsync("queued " + i).DefaultTimeout();
        }

        var stats = await Eventually.Until(
            () => GetJsonAsync(http, Admin + "/stats"),
            s => s.GetProperty("messages").GetProperty("sent").GetInt64() >= 24 && s.GetProperty("messages").GetProperty("sentPerSecond").GetDouble() > 0,
            "the sent replies are counted");

        Assert.Equal(host.RegistryInternal.ServerId, stats.GetProperty("serverId").GetString());
        Assert.False(stats.GetProperty("clustered").GetBoolean());
        Assert.True(stats.GetProperty("uptimeSeconds").GetDouble() >= 0);
        var connections = stats.GetProperty("connections");
        Assert.Equal(4, connections.GetProperty("local").GetInt32());
        Assert.Equal(4, connections.GetProperty("cluster").GetInt32());
        Assert.True(connections.GetProperty("clusterComplete").GetBoolean());
        Assert.Equal(4, connections.GetProperty("connects").GetInt64());

        var namespaces = stats.GetProperty("namespaces").EnumerateArray().ToDictionary(n => n.GetProperty("name").GetString()!);
        Assert.Equal(["chat", "default", "news"], namespaces.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(3, namespaces["chat"].GetProperty("connections").GetInt32());
        Assert.Equal(1, namespaces["news"].GetProperty("connections").GetInt32());
        Assert.Equal(0, namespaces["default"].GetProperty("connections").GetInt32());
        Assert.Equal(24, namespaces["chat"].GetProperty("messagesReceived").GetInt64()); // 4 joins, 20 echoes
        Assert.InRange(namespaces["news"].GetProperty("queuedMessages").GetInt64(), 10, 11);
        Assert.InRange(namespaces["news"].GetProperty("maxQueuedMessages").GetInt32(), 10, 11);
        Assert.Equal(0, namespaces["chat"].GetProperty("queuedMessages").GetInt64());

        var rooms = stats.GetProperty("rooms");
        Assert.Equal(2, rooms.GetProperty("count").GetInt32());
        var top = rooms.GetProperty("top").EnumerateArray().Select(r => (r.GetProperty("name").GetString(), r.GetProperty("members").GetInt32(), r.GetProperty("localMembers").GetInt32())).ToList();
        Assert.Equal([("lobby", 3, 3), ("quiet", 1, 1)], top);

        var messages = stats.GetProperty("messages");
        Assert.Equal(24, messages.GetProperty("received").GetInt64());
        Assert.True(messages.GetProperty("receivedPerSecond").GetDouble() > 0);
        Assert.True(messages.GetProperty("bytesReceived").GetInt64() > 0);
        Assert.True(messages.GetProperty("bytesReceivedPerSecond").GetDouble() > 0);

        var queues = stats.GetProperty("queues");
        Assert.InRange(queues.GetProperty("queuedMessages").GetInt64(), 10, 11);
        Assert.InRange(queues.GetProperty("maxQueuedMessages").GetInt32(), 10, 11);
        Assert.Equal(256, queues.GetProperty("capacity").GetInt32());
        Assert.Equal("close", queues.GetProperty("fullMode").GetString());

        Assert.True(stats.GetProperty("allowDisconnect").GetBoolean());
        var backplane = stats.GetProperty("backplane");
        Assert.Equal(nameof(InMemorySocketBackplane), backplane.GetProperty("type").GetString());
        Assert.Equal(JsonValueKind.Null, backplane.GetProperty("checks").ValueKind); // no AddHealthChecks()

        slowConnection.Abort();
    }

    [Fact]
    public async Task Stats_CountRefusalsAndDisconnectsByReason()
    {
        await using var host = await StartAsync(configure: o => o.MaxConnectionsPerUser = 1);
        using var http = Client(host, "alice");
        using (await ConnectAsync(host, "first", "chat", user: "u1"))
        {
            using var refused = new ClientWebSocket();
            await Assert.ThrowsAsync<WebSocketException>(() => refused.ConnectAsync(host.WebSocketUri("/ws/chat?id=second&user=u1"), CancellationToken.None)).DefaultTimeout();
        }

        var problems = (await Eventually.Until(
            () => GetJsonAsync(http, Admin + "/stats"),
            s => s.GetProperty("problems").GetProperty("disconnects").EnumerateObject().Any(),
            "the disconnect is counted")).GetProperty("problems");

        Assert.Equal(1, problems.GetProperty("rejectedConnections").GetProperty("max_connections_per_user").GetInt64());
        var disconnect = Assert.Single(problems.GetProperty("disconnects").EnumerateObject());
        Assert.Equal(1, disconnect.Value.GetInt64());
        Assert.Equal(0, problems.GetProperty("droppedMessages").GetInt64());
    }

    [Fact]
    public async Task Stats_RunOnlyTheLibrarysHealthChecks()
    {
        var appCheckRuns = 0;
        await using var host = await StartAsync(services: s => s.AddHealthChecks()
            .AddSocketRegistry()
            .AddCheck("app-database", () =>
            {
                Interlocked.Increment(ref appCheckRuns);
                return HealthCheckResult.Unhealthy("costly and failing");
            }));
        using var http = Client(host, "alice");

        var backplane = (await GetJsonAsync(http, Admin + "/stats")).GetProperty("backplane");

        Assert.Equal("Healthy", backplane.GetProperty("status").GetString());
        var check = Assert.Single(backplane.GetProperty("checks").EnumerateArray());
        Assert.Equal("websockets", check.GetProperty("name").GetString());
        Assert.Equal("Healthy", check.GetProperty("status").GetString());
        Assert.Equal(0, Volatile.Read(ref appCheckRuns));
    }

    [Fact]
    public void Monitor_CountsEveryMessage_WithoutAllocating()
    {
        using var meterFactory = new Client.TestMeterFactory();
        var metrics = new SocketMetrics(meterFactory);
        using var monitor = new SocketAdminMonitor(metrics, TimeProvider.System);
        void Traffic()
        {
            metrics.MessageReceived("chat", 10);
            metrics.MessageSent("chat", 20);
            metrics.MessageDropped("chat");
            metrics.MessageRejected("chat", RejectionReason.RateLimited);
        }

        Traffic(); // the first of each tag value adds its entry
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            Traffic();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(10_001, monitor.MessagesReceived.Of("chat"));
        Assert.Equal(10_001, monitor.MessagesSent.Total);
        Assert.Equal(200_020, monitor.BytesSent.Total);
        Assert.Equal(10_001, monitor.Dropped.Total);
        Assert.Equal(10_001, monitor.RejectedMessages.ByTag()[RejectionReason.RateLimited]);
    }

    [Fact]
    public void Monitor_Rates_AreMeasuredOverTheLastSeconds()
    {
        using var meterFactory = new Client.TestMeterFactory();
        var metrics = new SocketMetrics(meterFactory);
        var time = new Client.ManualTimeProvider();
        using var monitor = new SocketAdminMonitor(metrics, time);
        void Receive(int count)
        {
            for (var i = 0; i < count; i++)
            {
                metrics.MessageReceived("chat", 100);
            }
        }

        Assert.Equal(0, monitor.GetRates().MessagesReceived); // no time has passed
        Receive(100);
        time.Advance(TimeSpan.FromSeconds(2));
        var rates = monitor.GetRates();
        Assert.Equal(50, rates.MessagesReceived);
        Assert.Equal(5000, rates.BytesReceived);
        Assert.Equal(2, rates.WindowSeconds);

        // Polled every 2 s for a minute at 10 messages a second: the rate follows, over about the last 10 s.
        for (var second = 0; second < 60; second += 2)
        {
            Receive(20);
            time.Advance(TimeSpan.FromSeconds(2));
            rates = monitor.GetRates();
        }

        Assert.Equal(10, rates.MessagesReceived);
        Assert.InRange(rates.WindowSeconds, 8, 12);

        // Quiet since: the rate drops to nothing once the window has passed.
        time.Advance(TimeSpan.FromSeconds(1));
        monitor.GetRates();
        time.Advance(TimeSpan.FromSeconds(11));
        Assert.Equal(0, monitor.GetRates().MessagesReceived);
    }

    [Fact]
    public void HealthChecks_OfTheLibraryAndOfTheBackplanesPackage_AreTheOnesRun()
    {
        var services = new ServiceCollection();
        services.AddHealthChecks()
            .AddSocketRegistry()
            .AddRedisBackplane()
            .AddCheck("app", () => HealthCheckResult.Healthy());
        using var provider = services.BuildServiceProvider();
        var registrations = provider.GetRequiredService<IOptions<HealthCheckServiceOptions>>().Value.Registrations;

        string[] Selected(Type backplane) => [.. registrations.Where(r => SocketAdminEndpoints.IsLibraryCheck(r, backplane)).Select(r => r.Name).Order(StringComparer.Ordinal)];

        Assert.Equal(["websockets", "websockets-redis"], Selected(typeof(global::WebSockets.Redis.Internal.RedisSocketBackplane)));
        Assert.Equal(["websockets"], Selected(typeof(InMemorySocketBackplane)));
    }

    // ---- Dashboard -----------------------------------------------------------------------------------------

    [Fact]
    public async Task Dashboard_IsSelfContained_UnderAStrictContentSecurityPolicy()
    {
        await using var host = await StartAsync();
        using var http = Client(host, "alice");

        using var response = await http.GetAsync(Admin);
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        var csp = response.Headers.GetValues("Content-Security-Policy").Single();
        Assert.StartsWith("default-src 'none';", csp, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
        Assert.Contains("connect-src 'self'", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe", csp, StringComparison.Ordinal);

        // The one inline script and style are allowed by their hashes, so a browser runs exactly them.
        Assert.Contains($"script-src '{Sha256(Between(html, "<script>", "</script>"))}'", csp, StringComparison.Ordinal);
        Assert.Contains($"style-src '{Sha256(Between(html, "<style>", "</style>"))}'", csp, StringComparison.Ordinal);

        // Nothing external, and data is rendered as text only.
        Assert.DoesNotMatch(new Regex("(https?:)?//[a-z0-9]", RegexOptions.IgnoreCase), html.Replace("\\/", "", StringComparison.Ordinal));
        Assert.DoesNotContain("innerHTML", html, StringComparison.Ordinal);
        Assert.DoesNotContain("insertAdjacentHTML", html, StringComparison.Ordinal);
        Assert.Contains("X-WebSockets-Admin", html, StringComparison.Ordinal);
        Assert.Contains("setInterval", html, StringComparison.Ordinal);

        // The same page with a trailing slash (its script strips it to find the JSON).
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(Admin + "/")).StatusCode);
    }

    // ---- Connections ---------------------------------------------------------------------------------------

    [Fact]
    public async Task Connections_ListThisServersConnections_FilteredAndBounded()
    {
        await using var host = await StartAsync();
        using var http = Client(host, "alice");
        using var a = await ConnectAsync(host, "a", "chat", user: "user-a");
        using var b = await ConnectAsync(host, "b", "chat");
        using var n = await ConnectAsync(host, "n", "news");
        await JoinAsync(a, "lobby");

        var all = await GetJsonAsync(http, Admin + "/connections");
        Assert.Equal(3, all.GetProperty("count").GetInt32());
        Assert.Equal(["a", "b", "n"], all.GetProperty("connections").EnumerateArray().Select(c => c.GetProperty("id").GetString()).Order(StringComparer.Ordinal));

        var lobby = await GetJsonAsync(http, Admin + "/connections?room=lobby");
        var member = Assert.Single(lobby.GetProperty("connections").EnumerateArray());
        Assert.Equal("a", member.GetProperty("id").GetString());
        Assert.Equal("chat", member.GetProperty("namespace").GetString());
        Assert.Equal("user-a", member.GetProperty("userId").GetString());
        Assert.Equal("127.0.0.1", member.GetProperty("remoteAddress").GetString());
        Assert.Equal(["lobby"], member.GetProperty("rooms").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal(0, member.GetProperty("queuedMessages").GetInt32());
        Assert.InRange(member.GetProperty("connectedAt").GetDateTimeOffset(), DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(1));

        Assert.Equal(2, (await GetJsonAsync(http, Admin + "/connections?namespace=chat")).GetProperty("count").GetInt32());
        Assert.Equal("a", (await GetJsonAsync(http, Admin + "/connections?search=USER-A")).GetProperty("connections")[0].GetProperty("id").GetString());
        Assert.Equal(0, (await GetJsonAsync(http, Admin + "/connections?namespace=nope")).GetProperty("count").GetInt32());

        var page = await GetJsonAsync(http, Admin + "/connections?take=1");
        Assert.Equal(3, page.GetProperty("count").GetInt32());
        Assert.Equal(1, page.GetProperty("connections").GetArrayLength());
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync(Admin + "/connections?take=0")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync(Admin + "/connections?take=501")).StatusCode);
    }

    // ---- Disconnect ----------------------------------------------------------------------------------------

    [Fact]
    public async Task Disconnect_WithoutTheHeader_Is400_AndTheConnectionStaysOpen()
    {
        await using var host = await StartAsync();
        using var http = Client(host, "alice");
        using var a = await ConnectAsync(host, "a", "chat");

        using var response = await PostDisconnectAsync(http, "a", header: false);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        Assert.Contains("X-WebSockets-Admin", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("still here", (await a.RequestAsync("echo", "still here")).GetProperty("data").GetString());
        Assert.Single(host.Logs.WithEventName("AdminRequestRefused"));
    }

    [Fact]
    public async Task Disconnect_FromAnotherSite_Is403()
    {
        await using var host = await StartAsync();
        using var http = Client(host, "alice");
        using var a = await ConnectAsync(host, "a", "chat");

        using var request = new HttpRequestMessage(HttpMethod.Post, Admin + "/connections/a/disconnect");
        request.Headers.Add("X-WebSockets-Admin", "1");
        request.Headers.Add("Origin", "https://evil.example");
        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal(1, host.Registry.Count);
    }

    [Fact]
    public async Task Disconnect_ClosesTheConnection_AndTheCountDrops()
    {
        var reasons = new TaskCompletionSource<DisconnectReason>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = await StartAsync(registry: r => r.AddNamespace("chat", ns => ns.OnDisconnected((_, reason, _) =>
        {
            reasons.TrySetResult(reason);
            return Task.CompletedTask;
        })));
        using var http = Client(host, "alice");
        using var a = await ConnectAsync(host, "a", "chat");
        using var b = await ConnectAsync(host, "b", "chat");

        using var response = await PostDisconnectAsync(http, "a");

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.True(body.GetProperty("located").GetBoolean());
        Assert.Equal(host.RegistryInternal.ServerId, body.GetProperty("serverId").GetString());
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await a.Socket.ReceiveCloseAsync());
        Assert.Equal("Disconnected by an administrator.", a.Socket.CloseStatusDescription);
        await a.Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).DefaultTimeout();
        Assert.Equal(DisconnectReason.ServerClosed, await reasons.Task.DefaultTimeout());
        await Eventually.Until(() => Task.FromResult(host.Registry.Count), count => count == 1, "the registry count drops");
        var log = Assert.Single(host.Logs.WithEventName("AdminDisconnected"));
        Assert.Contains("alice", log.Message, StringComparison.Ordinal);
        Assert.Equal("b", (await b.RequestAsync("echo", "b")).GetProperty("data").GetString());
    }

    [Fact]
    public async Task Disconnect_UnknownId_Is404()
    {
        await using var host = await StartAsync();
        using var http = Client(host, "alice");

        using var response = await PostDisconnectAsync(http, "nobody");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Disconnect_WhenNotAllowed_IsNotMapped()
    {
        await using var host = await StartAsync(admin: null, adminOptions: o => o.AllowDisconnect = false);
        using var http = Client(host, "alice");
        using var a = await ConnectAsync(host, "a", "chat");

        using var response = await PostDisconnectAsync(http, "a");

        Assert.True(response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed, response.StatusCode.ToString());
        Assert.Equal(1, host.Registry.Count);
    }

    [Fact]
    public async Task Disconnect_ConnectionOnAnotherServer_IsClosedThroughTheCluster()
    {
        var bus = new InMemoryBackplaneBus();
        await using var one = await StartAsync(bus: bus);
        await using var two = await StartAsync(bus: bus);
        using var http = Client(one, "alice");
        using var local = await ConnectAsync(one, "local", "chat");
        using var remote = await ConnectAsync(two, "remote", "chat");
        await JoinAsync(remote, "lobby");

        var stats = await GetJsonAsync(http, Admin + "/stats");
        Assert.True(stats.GetProperty("clustered").GetBoolean());
        Assert.Equal(1, stats.GetProperty("connections").GetProperty("local").GetInt32());
        Assert.Equal(2, stats.GetProperty("connections").GetProperty("cluster").GetInt32());
        var lobby = Assert.Single(stats.GetProperty("rooms").GetProperty("top").EnumerateArray());
        Assert.Equal(1, lobby.GetProperty("members").GetInt32());
        Assert.Equal(0, lobby.GetProperty("localMembers").GetInt32());

        using var response = await PostDisconnectAsync(http, "remote");

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(two.RegistryInternal.ServerId, body.GetProperty("serverId").GetString());
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await remote.Socket.ReceiveCloseAsync());
        await remote.Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).DefaultTimeout();
        await Eventually.Until(() => Task.FromResult(two.Registry.Count), count => count == 0, "the other server's count drops");
        Assert.Equal(1, one.Registry.Count);
    }

    // ---- Helpers -------------------------------------------------------------------------------------------

    private static Task<TestHost> StartAsync(
        Action<IEndpointConventionBuilder>? admin = null,
        Action<WebSocketAdminOptions>? adminOptions = null,
        Action<ISocketRegistryBuilder>? registry = null,
        Action<IServiceCollection>? services = null,
        Action<SocketRegistryOptions>? configure = null,
        InMemoryBackplaneBus? bus = null)
        => TestHost.StartAsync(
            s =>
            {
                var builder = s.AddSocketRegistry(o =>
                {
                    o.ConnectionIdGenerator = c => c.Request.Query["id"].ToString();
                    o.UserIdProvider = c => c.Request.Query["user"] is { Count: > 0 } user ? user.ToString() : null;
                    configure?.Invoke(o);
                });
                builder.AddNamespace("chat", ns => ns
                    .AllowClientRooms((_, _, _) => ValueTask.FromResult(true))
                    .On("echo", (string text) => text));
                builder.AddNamespace("news", _ => { });
                registry?.Invoke(builder);
                if (bus is not null)
                {
                    s.AddSingleton<SocketBackplane>(new InMemorySocketBackplane(bus));
                }

                s.AddAuthentication(TestScheme).AddScheme<AuthenticationSchemeOptions, HeaderAuthenticationHandler>(TestScheme, _ => { });
                s.AddAuthorization(o => o.AddPolicy("admins", p => p.RequireRole("admin")));
                services?.Invoke(s);
            },
            app =>
            {
                app.MapWebSocketEndpoint("/ws/chat", "chat");
                app.MapWebSocketEndpoint("/ws/news", "news");
                var endpoint = app.MapWebSocketAdmin(Admin, adminOptions);
                admin?.Invoke(endpoint);
            });

    private static HttpClient Client(TestHost host, string? user, string? role = null)
    {
        var http = new HttpClient { BaseAddress = host.BaseUri, Timeout = TaskTimeoutExtensions.DefaultTimeoutValue };
        if (user is not null)
        {
            http.DefaultRequestHeaders.Add(UserHeader, user);
        }

        if (role is not null)
        {
            http.DefaultRequestHeaders.Add(RoleHeader, role);
        }

        return http;
    }

    private static Task<HttpResponseMessage> PostDisconnectAsync(HttpClient http, string id, bool header = true)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"{Admin}/connections/{Uri.EscapeDataString(id)}/disconnect");
        if (header)
        {
            request.Headers.Add("X-WebSockets-Admin", "1");
        }

        return http.SendAsync(request);
    }

    private static async Task<JsonElement> GetJsonAsync(HttpClient http, string path)
    {
        using var response = await http.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path}: {(int)response.StatusCode} {body}");
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private static async Task<EventClient> ConnectAsync(TestHost host, string id, string @namespace, string? user = null)
        => new(await host.ConnectAsync($"/ws/{@namespace}?id={id}" + (user is null ? "" : $"&user={user}")), id);

    private static async Task JoinAsync(EventClient client, string room)
    {
        var reply = await client.RequestAsync("$join", new { room });
        Assert.Equal(room, reply.GetProperty("data").GetProperty("room").GetString());
    }

    private static string Between(string text, string open, string close)
    {
        var start = text.IndexOf(open, StringComparison.Ordinal) + open.Length;
        return text[start..text.IndexOf(close, start, StringComparison.Ordinal)];
    }

    private static string Sha256(string content) => "sha256-" + Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(content)));

    /// <summary>Authenticates a request that carries an X-Test-User header, as that user, with the role in X-Test-Role.</summary>
    private sealed class HeaderAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        protected override Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            if (!Request.Headers.TryGetValue(UserHeader, out var user) || string.IsNullOrEmpty(user))
            {
                return Task.FromResult(AuthenticateResult.NoResult());
            }

            var claims = new List<Claim> { new(ClaimTypes.Name, user.ToString()) };
            if (Request.Headers.TryGetValue(RoleHeader, out var role))
            {
                claims.Add(new Claim(ClaimTypes.Role, role.ToString()));
            }

            var identity = new ClaimsIdentity(claims, TestScheme);
            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), TestScheme)));
        }
    }
}
