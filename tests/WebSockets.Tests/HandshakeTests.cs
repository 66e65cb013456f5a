using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using System.Security.Claims;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using WebSockets.Tests.Infrastructure;

namespace WebSockets.Tests;

/// <summary>The opening handshake: origin checks, sub-protocols, compression, refusals, authorization, routing.</summary>
public sealed class HandshakeTests
{
    private const string TestScheme = "Test";
    private const string TestUserHeader = "X-Test-User";

    // ---- Origin (cross-site WebSocket hijacking) -------------------------------------------------------------

    [Fact]
    public async Task CrossOriginBrowserRequest_DefaultOptions_IsRefusedWith403AndNeverRegistered()
    {
        var connectedHooks = 0;
        await using var host = await StartEchoHostAsync(
            configureEndpoint: null,
            configureServices: s =>
            {
                s.AddSocketRegistry().AddNamespace(SocketRegistryOptions.DefaultNamespace, ns => ns
                    .OnConnected((_, _) =>
                    {
                        Interlocked.Increment(ref connectedHooks);
                        return Task.CompletedTask;
                    }));
            });
        using var metrics = new MetricRecorder(host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());

        using var client = await ConnectRefusedAsync(host, "/ws", o => o.SetRequestHeader("Origin", "http://evil.example"));

        Assert.Equal(HttpStatusCode.Forbidden, client.HttpStatusCode);
        Assert.Equal(1, metrics.Sum("websockets.server.rejected_connections", "websockets.rejection.reason", "origin"));
        Assert.Equal(0, host.Registry.Count);
        Assert.Empty(host.Registry.GetConnections());
        Assert.Equal(0, Volatile.Read(ref connectedHooks));
        var refused = Assert.Single(host.Logs.WithEventName("OriginRefused"));
        Assert.Contains("http://evil.example", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CrossOriginBrowserRequest_DefaultOptions_GetsPlainTextReasonNotAnUpgrade()
    {
        await using var host = await StartEchoHostAsync();

        var response = await RawWebSocketClient.SendRequestAsync(host.WebSocketUri("/ws"), [new("Origin", "http://evil.example")]).DefaultTimeout();

        Assert.Equal(403, response.StatusCode);
        Assert.False(response.Headers.ContainsKey("Sec-WebSocket-Accept"), response.ToString());
        Assert.Contains("Origin", response.Body, StringComparison.Ordinal);
        Assert.Equal(0, host.Registry.Count);
    }

    [Fact]
    public async Task SameOriginBrowserRequest_DefaultOptions_IsAccepted()
    {
        await using var host = await StartEchoHostAsync();
        var ownOrigin = $"http://127.0.0.1:{host.BaseUri.Port.ToString(CultureInfo.InvariantCulture)}";

        using var client = await host.ConnectAsync("/ws", o => o.SetRequestHeader("Origin", ownOrigin));

        Assert.Equal(HttpStatusCode.SwitchingProtocols, client.HttpStatusCode);
        await AssertEchoesAsync(client);
        Assert.Equal(1, host.Registry.Count);
    }

    [Fact]
    public async Task SameHostOtherPortOrigin_DefaultOptions_IsRefused()
    {
        await using var host = await StartEchoHostAsync();
        var otherPort = host.BaseUri.Port == 65535 ? 65534 : host.BaseUri.Port + 1;

        using var client = await ConnectRefusedAsync(host, "/ws",
            o => o.SetRequestHeader("Origin", $"http://127.0.0.1:{otherPort.ToString(CultureInfo.InvariantCulture)}"));

        Assert.Equal(HttpStatusCode.Forbidden, client.HttpStatusCode);
        Assert.Equal(0, host.Registry.Count);
    }

    [Fact]
    public async Task OpaqueNullOrigin_DefaultOptions_IsRefused()
    {
        // Sandboxed iframes and file:// pages send "Origin: null"; it must not count as same-origin.
        await using var host = await StartEchoHostAsync();

        var response = await RawWebSocketClient.SendRequestAsync(host.WebSocketUri("/ws"), [new("Origin", "null")]).DefaultTimeout();

        Assert.Equal(403, response.StatusCode);
        Assert.Equal(0, host.Registry.Count);
    }

    [Fact]
    public async Task RequestWithoutOrigin_DefaultOptions_IsAccepted()
    {
        await using var host = await StartEchoHostAsync();

        // The raw client sends exactly the headers it is given: no Origin at all, as a non-browser client.
        await using var raw = await host.ConnectRawAsync("/ws");
        Assert.Equal(101, raw.HandshakeResponse.StatusCode);
        await raw.SendTextAsync("no origin").DefaultTimeout();
        var frame = await raw.ReceiveDataFrameAsync().DefaultTimeout();

        Assert.Equal(RawOpcode.Text, frame.Opcode);
        Assert.Equal("no origin", frame.Text);
        Assert.Equal(1, host.Registry.Count);
    }

    [Fact]
    public async Task AllowedOriginsEntry_IsAcceptedWhileAnotherOriginIsRefused()
    {
        await using var host = await StartEchoHostAsync(o => o.AllowedOrigins.Add("https://app.example.com"));

        using var allowed = await host.ConnectAsync("/ws", o => o.SetRequestHeader("Origin", "https://app.example.com"));
        await AssertEchoesAsync(allowed);

        using var refused = await ConnectRefusedAsync(host, "/ws", o => o.SetRequestHeader("Origin", "https://evil.example.com"));
        Assert.Equal(HttpStatusCode.Forbidden, refused.HttpStatusCode);

        // Same host, other scheme: a different origin.
        using var otherScheme = await ConnectRefusedAsync(host, "/ws", o => o.SetRequestHeader("Origin", "http://app.example.com"));
        Assert.Equal(HttpStatusCode.Forbidden, otherScheme.HttpStatusCode);

        // An attacker-registered domain that merely starts with the allowed origin.
        using var lookalike = await ConnectRefusedAsync(host, "/ws", o => o.SetRequestHeader("Origin", "https://app.example.com.evil.example"));
        Assert.Equal(HttpStatusCode.Forbidden, lookalike.HttpStatusCode);

        Assert.Equal(1, host.Registry.Count);
    }

    [Fact]
    public async Task AllowedOriginsWildcard_AcceptsAnyOrigin()
    {
        await using var host = await StartEchoHostAsync(o => o.AllowedOrigins.Add("*"));

        using var first = await host.ConnectAsync("/ws", o => o.SetRequestHeader("Origin", "http://evil.example"));
        using var second = await host.ConnectAsync("/ws", o => o.SetRequestHeader("Origin", "https://anything.example.org:8443"));
        await AssertEchoesAsync(first);
        await AssertEchoesAsync(second);

        Assert.Equal(2, host.Registry.Count);
    }

    [Fact]
    public async Task OriginValidator_DecidesInsteadOfAllowedOrigins()
    {
        var seen = new List<(string Path, string Origin)>();
        await using var host = await StartEchoHostAsync(o =>
        {
            o.AllowedOrigins.Add("https://listed.example");
            o.OriginValidator = (context, origin) =>
            {
                lock (seen)
                {
                    seen.Add((context.Request.Path.Value ?? string.Empty, origin));
                }

                return origin == "https://validated.example";
            };
        });

        using var validated = await host.ConnectAsync("/ws", o => o.SetRequestHeader("Origin", "https://validated.example"));
        await AssertEchoesAsync(validated);

        using var listedOnly = await ConnectRefusedAsync(host, "/ws", o => o.SetRequestHeader("Origin", "https://listed.example"));
        Assert.Equal(HttpStatusCode.Forbidden, listedOnly.HttpStatusCode);

        Assert.Equal(1, host.Registry.Count);
        lock (seen)
        {
            Assert.Equal([("/ws", "https://validated.example"), ("/ws", "https://listed.example")], seen);
        }
    }

    // ---- Sub-protocols ---------------------------------------------------------------------------------------

    [Fact]
    public async Task SubProtocol_ServerPreferenceOrderWins()
    {
        await using var host = await TestHost.StartAsync(s => s.AddSocketRegistry(), app => app.MapWebSocketEndpoint(
            "/ws",
            (string _, ISocketConnection connection) => connection.SubProtocol ?? "<none>",
            o =>
            {
                o.SubProtocols.Add("v1.json");
                o.SubProtocols.Add("v2.json");
            }));

        using var client = await host.ConnectAsync("/ws", o =>
        {
            o.AddSubProtocol("v2.json");
            o.AddSubProtocol("v1.json");
        });

        Assert.Equal("v1.json", client.SubProtocol);
        await client.SendTextAsync("which?");
        Assert.Equal("v1.json", await client.ReceiveTextAsync());
        Assert.Equal("v1.json", Assert.Single(host.Registry.GetConnections()).SubProtocol);
    }

    [Fact]
    public async Task SubProtocol_NoneOfferedMatches_ConnectionOpensWithoutSubProtocol()
    {
        await using var host = await TestHost.StartAsync(s => s.AddSocketRegistry(), app => app.MapWebSocketEndpoint(
            "/ws",
            (string _, ISocketConnection connection) => connection.SubProtocol ?? "<none>",
            o =>
            {
                o.SubProtocols.Add("v1.json");
                o.SubProtocols.Add("v2.json");
            }));

        using var client = await host.ConnectAsync("/ws", o => o.AddSubProtocol("v3.json"));

        Assert.Equal(WebSocketState.Open, client.State);
        Assert.Null(client.SubProtocol);
        Assert.False(client.HttpResponseHeaders!.ContainsKey("Sec-WebSocket-Protocol"));
        await client.SendTextAsync("which?");
        Assert.Equal("<none>", await client.ReceiveTextAsync());
        Assert.Null(Assert.Single(host.Registry.GetConnections()).SubProtocol);
    }

    // ---- Compression -----------------------------------------------------------------------------------------

    [Fact]
    public async Task Compression_Enabled_NegotiatesPermessageDeflateAndRoundTripsLargeMessage()
    {
        await using var host = await StartEchoHostAsync(o => o.EnableCompression = true);

        using var client = await host.ConnectAsync("/ws", o => o.DangerousDeflateOptions = new WebSocketDeflateOptions());

        Assert.True(client.HttpResponseHeaders!.TryGetValue("Sec-WebSocket-Extensions", out var extensions));
        Assert.Contains("permessage-deflate", string.Join(", ", extensions), StringComparison.OrdinalIgnoreCase);

        var text = string.Concat(Enumerable.Repeat("compress me please ", 540))[..(10 * 1024)];
        await client.SendTextAsync(text);
        var echoed = await client.ReceiveMessageAsync();
        Assert.Equal(WebSocketMessageType.Text, echoed.Type);
        Assert.Equal(text, echoed.Text);

        var binary = new byte[10 * 1024];
        for (var i = 0; i < binary.Length; i++)
        {
            binary[i] = (byte)(i % 7);
        }

        await client.SendBinaryAsync(binary);
        var echoedBinary = await client.ReceiveMessageAsync();
        Assert.Equal(WebSocketMessageType.Binary, echoedBinary.Type);
        Assert.Equal(binary, echoedBinary.Data);
    }

    [Fact]
    public async Task Compression_Enabled_ServerActuallyCompressesOnTheWire()
    {
        await using var host = await StartEchoHostAsync(o => o.EnableCompression = true);

        await using var raw = await host.ConnectRawAsync("/ws", [new("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")]);
        Assert.Contains("permessage-deflate", raw.HandshakeResponse.Headers["Sec-WebSocket-Extensions"], StringComparison.OrdinalIgnoreCase);

        // The raw client sends uncompressed frames (RSV1 clear), which permessage-deflate allows.
        var text = new string('a', 10 * 1024);
        await raw.SendTextAsync(text).DefaultTimeout();
        var frame = await raw.ReceiveDataFrameAsync().DefaultTimeout();

        Assert.Equal(RawOpcode.Text, frame.Opcode);
        Assert.True(frame.Rsv1, frame.ToString());
        Assert.True(frame.Payload.Length < 1024, $"A 10 KiB run of one letter should compress well; the frame carried {frame.Payload.Length} bytes.");
    }

    [Fact]
    public async Task Compression_DisabledByDefault_ExtensionHeaderAbsentAndMessagesStillFlow()
    {
        await using var host = await StartEchoHostAsync();

        using var client = await host.ConnectAsync("/ws", o => o.DangerousDeflateOptions = new WebSocketDeflateOptions());

        Assert.False(client.HttpResponseHeaders!.ContainsKey("Sec-WebSocket-Extensions"));
        var text = new string('z', 10 * 1024);
        await client.SendTextAsync(text);
        Assert.Equal(text, await client.ReceiveTextAsync());
    }

    // ---- Refused upgrades ------------------------------------------------------------------------------------

    [Fact]
    public async Task PlainHttpGet_Returns426WithTextBodyMentioningWebSocket()
    {
        await using var host = await StartEchoHostAsync();
        using var http = new HttpClient();

        using var response = await http.GetAsync(host.HttpUri("/ws")).DefaultTimeout();
        var body = await response.Content.ReadAsStringAsync().DefaultTimeout();

        Assert.Equal(HttpStatusCode.UpgradeRequired, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("WebSocket", body, StringComparison.Ordinal);
        Assert.Contains("websocket", string.Join(",", response.Headers.Upgrade.Select(u => u.Name)), StringComparison.OrdinalIgnoreCase);
        Assert.Equal(0, host.Registry.Count);
    }

    [Fact]
    public async Task UpgradeWithUnsupportedVersion_IsRefusedAndAdvertisesVersion13()
    {
        await using var host = await StartEchoHostAsync();

        var response = await RawWebSocketClient.SendRequestAsync(host.WebSocketUri("/ws"), [new("Sec-WebSocket-Version", "8")]).DefaultTimeout();

        Assert.Equal(426, response.StatusCode);
        Assert.True(response.Headers.TryGetValue("Sec-WebSocket-Version", out var version), response.ToString());
        Assert.Equal("13", version);
        Assert.Equal(0, host.Registry.Count);
    }

    [Fact]
    public async Task PlainHttpPost_Returns426NotServerError()
    {
        await using var host = await StartEchoHostAsync();
        using var http = new HttpClient();

        using var response = await http.PostAsync(host.HttpUri("/ws"), new StringContent("hello")).DefaultTimeout();

        Assert.Equal(HttpStatusCode.UpgradeRequired, response.StatusCode);
        Assert.DoesNotContain(host.Logs.Records, r => r.Level >= LogLevel.Error);
    }

    [Fact]
    public async Task OnUpgradeFailed_WritesCustomJsonResponseWithGivenStatusCode()
    {
        var contexts = new List<(int StatusCode, string Reason)>();
        await using var host = await StartEchoHostAsync(o => o.OnUpgradeFailed = async failed =>
        {
            lock (contexts)
            {
                contexts.Add((failed.StatusCode, failed.Reason));
            }

            await failed.HttpContext.Response.WriteAsJsonAsync(new { error = "upgrade_refused", status = failed.StatusCode, failed.Reason });
        });
        using var http = new HttpClient();

        using var notUpgrade = await http.GetAsync(host.HttpUri("/ws")).DefaultTimeout();
        Assert.Equal(HttpStatusCode.UpgradeRequired, notUpgrade.StatusCode);
        Assert.Equal("application/json", notUpgrade.Content.Headers.ContentType?.MediaType);
        using (var json = JsonDocument.Parse(await notUpgrade.Content.ReadAsStringAsync().DefaultTimeout()))
        {
            Assert.Equal("upgrade_refused", json.RootElement.GetProperty("error").GetString());
            Assert.Equal(426, json.RootElement.GetProperty("status").GetInt32());
            Assert.Contains("WebSocket", json.RootElement.GetProperty("reason").GetString(), StringComparison.Ordinal);
        }

        var crossOrigin = await RawWebSocketClient.SendRequestAsync(host.WebSocketUri("/ws"), [new("Origin", "http://evil.example")]).DefaultTimeout();
        Assert.Equal(403, crossOrigin.StatusCode);
        Assert.StartsWith("application/json", crossOrigin.Headers["Content-Type"], StringComparison.Ordinal);
        using (var json = JsonDocument.Parse(crossOrigin.Body))
        {
            Assert.Equal(403, json.RootElement.GetProperty("status").GetInt32());
        }

        lock (contexts)
        {
            Assert.Equal([426, 403], contexts.Select(c => c.StatusCode));
        }

        Assert.Equal(0, host.Registry.Count);
    }

    // ---- Endpoint conventions --------------------------------------------------------------------------------

    [Fact]
    public async Task RequireAuthorization_UnauthenticatedUpgrade_Gets401AndIsNeverRegistered()
    {
        var connectedHooks = 0;
        await using var host = await StartAuthorizedHostAsync(() => Interlocked.Increment(ref connectedHooks));

        using var client = await ConnectRefusedAsync(host, "/ws");
        using var emptyUser = await ConnectRefusedAsync(host, "/ws", o => o.SetRequestHeader(TestUserHeader, string.Empty));

        Assert.Equal(HttpStatusCode.Unauthorized, client.HttpStatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, emptyUser.HttpStatusCode);
        Assert.Equal(0, host.Registry.Count);
        Assert.Equal(0, Volatile.Read(ref connectedHooks));
    }

    [Fact]
    public async Task RequireAuthorization_AuthenticatedUpgrade_ConnectsWithTheUser()
    {
        var connectedHooks = 0;
        await using var host = await StartAuthorizedHostAsync(() => Interlocked.Increment(ref connectedHooks));

        using var client = await host.ConnectAsync("/ws", o => o.SetRequestHeader(TestUserHeader, "alice"));

        await client.SendTextAsync("who am I?");
        Assert.Equal("alice", await client.ReceiveTextAsync());
        var connection = Assert.Single(host.Registry.GetConnections());
        Assert.True(connection.User.Identity?.IsAuthenticated);
        Assert.Equal("alice", connection.User.Identity?.Name);
        Assert.Equal(1, Volatile.Read(ref connectedHooks));
    }

    [Fact]
    public async Task MapGroup_ServesEndpointUnderGroupPrefix()
    {
        await using var host = await TestHost.StartAsync(
            s => s.AddSocketRegistry(),
            app => app.MapGroup("/api").MapWebSocketEndpoint("/ws", (SocketMessage message) => message));

        using var client = await host.ConnectAsync("/api/ws");
        await AssertEchoesAsync(client);
        Assert.Equal(1, host.Registry.Count);

        using var http = new HttpClient();
        using var outsideGroup = await http.GetAsync(host.HttpUri("/ws")).DefaultTimeout();
        Assert.Equal(HttpStatusCode.NotFound, outsideGroup.StatusCode);
        using var insideGroup = await http.GetAsync(host.HttpUri("/api/ws")).DefaultTimeout();
        Assert.Equal(HttpStatusCode.UpgradeRequired, insideGroup.StatusCode);
    }

    // ---- Helpers ---------------------------------------------------------------------------------------------

    private static Task<TestHost> StartEchoHostAsync(
        Action<WebSocketEndpointOptions>? configureEndpoint = null,
        Action<IServiceCollection>? configureServices = null)
        => TestHost.StartAsync(
            configureServices ?? (s => s.AddSocketRegistry()),
            app => app.MapWebSocketEndpoint("/ws", (SocketMessage message) => message, configureEndpoint ?? (_ => { })));

    private static Task<TestHost> StartAuthorizedHostAsync(Action onConnected)
        => TestHost.StartAsync(
            s =>
            {
                s.AddSocketRegistry().AddNamespace(SocketRegistryOptions.DefaultNamespace, ns => ns.OnConnected((_, _) =>
                {
                    onConnected();
                    return Task.CompletedTask;
                }));
                s.AddAuthentication(TestScheme).AddScheme<AuthenticationSchemeOptions, HeaderAuthenticationHandler>(TestScheme, _ => { });
                s.AddAuthorization();
            },
            app => app
                .MapWebSocketEndpoint("/ws", (string _, ClaimsPrincipal user) => user.Identity?.Name ?? "<anonymous>")
                .RequireAuthorization());

    /// <summary>
    /// Lets the test logger see Debug records. The EchoApp's appsettings.json is copied next to the tests, and its
    /// "Logging:LogLevel:Default": "Information" would otherwise filter them out despite TestHost's minimum level.
    /// </summary>
    /// <summary>Connects expecting the handshake to be refused; the client keeps the HTTP status and headers.</summary>
    private static async Task<ClientWebSocket> ConnectRefusedAsync(TestHost host, string path, Action<ClientWebSocketOptions>? configure = null)
    {
        var client = new ClientWebSocket();
        client.Options.CollectHttpResponseDetails = true;
        configure?.Invoke(client.Options);
        await Assert.ThrowsAsync<WebSocketException>(() => client.ConnectAsync(host.WebSocketUri(path), CancellationToken.None)).DefaultTimeout();
        return client;
    }

    private static async Task AssertEchoesAsync(ClientWebSocket client)
    {
        await client.SendTextAsync("ping");
        Assert.Equal("ping", await client.ReceiveTextAsync());
    }

    /// <summary>Authenticates a request that carries an X-Test-User header, as that user.</summary>
    private sealed class HeaderAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        protected override Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            if (!Request.Headers.TryGetValue(TestUserHeader, out var user) || string.IsNullOrEmpty(user))
            {
                return Task.FromResult(AuthenticateResult.NoResult());
            }

            var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, user.ToString())], TestScheme);
            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), TestScheme)));
        }
    }
}
