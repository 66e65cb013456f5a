using System.Net;
using System.Net.WebSockets;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using WebSockets.Tests.Client;
using WebSockets.Tests.Infrastructure;

namespace WebSockets.Tests;

/// <summary>
/// Real JWT bearer authentication (Microsoft.AspNetCore.Authentication.JwtBearer) on the upgrade request, the token
/// taken from the <c>access_token</c> query parameter as browsers send it, per-event authorization, closing on
/// expiry, and the in-band <c>$auth</c> token refresh. The registry runs on a manual clock that starts at the real
/// time, so token lifetimes (checked by JWT bearer against the real clock) and the expiry timer (on the manual clock)
/// agree, and expiry is tested by moving the clock, not by waiting.
/// </summary>
public sealed class AuthenticationTests
{
    private static readonly SymmetricSecurityKey s_key = new(Encoding.UTF8.GetBytes("a test signing key of at least 256 bits, for HS256 only"));

    [Fact]
    public async Task AccessTokenInQuery_AuthenticatesTheUpgrade_IsNotInConnectionQuery_AndIsNeverLogged()
    {
        await using var host = await StartHostAsync(new ManualTimeProvider(DateTimeOffset.UtcNow));
        var token = CreateToken("alice", TimeSpan.FromMinutes(10));

        using var client = await ConnectAsync(host, token, "&room=lobby");
        var reply = await client.RequestAsync("whoami", null);

        Assert.Equal("alice", reply.GetProperty("data").GetProperty("name").GetString());
        var connection = Assert.Single(host.Registry.GetConnections());
        Assert.Equal("alice", connection.UserId);
        Assert.Equal("lobby", connection.Query["room"].ToString());
        Assert.False(connection.Query.ContainsKey("access_token"));

        // Everything the library and the authentication handler logged, at Debug, holds no trace of the token.
        Assert.NotEmpty(host.Logs.Records);
        Assert.DoesNotContain(host.Logs.Records, r => r.Message.Contains(token, StringComparison.Ordinal) || r.Message.Contains(token[^16..], StringComparison.Ordinal));
    }

    [Fact]
    public async Task AccessTokenInQuery_IsIgnoredByOrdinaryHttpEndpoints_AndAnExpiredTokenIsRefusedAtTheHandshake()
    {
        await using var host = await StartHostAsync(new ManualTimeProvider(DateTimeOffset.UtcNow));
        using var http = new HttpClient();

        // The query token is only taken for WebSocket upgrades to the library's endpoints.
        using var page = await http.GetAsync(host.HttpUri($"/api/me?access_token={CreateToken("alice", TimeSpan.FromMinutes(10))}")).DefaultTimeout();
        Assert.Equal(HttpStatusCode.Unauthorized, page.StatusCode);
        using var request = new HttpRequestMessage(HttpMethod.Get, host.HttpUri("/api/me"));
        request.Headers.Authorization = new("Bearer", CreateToken("alice", TimeSpan.FromMinutes(10)));
        using var withHeader = await http.SendAsync(request).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, withHeader.StatusCode);

        var expired = CreateToken("alice", TimeSpan.FromMinutes(-5));
        var refused = await Assert.ThrowsAsync<WebSocketException>(() => ConnectAsync(host, expired));
        Assert.Contains("401", refused.Message, StringComparison.Ordinal);
        Assert.Equal(0, host.Registry.Count);
        Assert.Contains(host.Logs.Records, r => r.Category.StartsWith("Microsoft.AspNetCore.Authentication", StringComparison.Ordinal));
        Assert.DoesNotContain(host.Logs.Records, r => r.Message.Contains(expired[^16..], StringComparison.Ordinal));
    }

    [Fact]
    public async Task AuthenticationExpiry_ClosesTheConnectionWith1008_AndTheHookSeesAuthenticationExpired()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UtcNow);
        var reasons = new TaskCompletionSource<DisconnectReason>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = await StartHostAsync(clock, onDisconnected: r => reasons.TrySetResult(r));
        using var metrics = new MetricRecorder(host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        using var client = await ConnectAsync(host, CreateToken("alice", TimeSpan.FromMinutes(10)));
        await client.RequestAsync("whoami", null);

        clock.Advance(TimeSpan.FromMinutes(9));
        Assert.Equal("alice", (await client.RequestAsync("whoami", null)).GetProperty("data").GetProperty("name").GetString());

        clock.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await client.Socket.ReceiveCloseAsync().DefaultTimeout());
        Assert.Equal("Authentication expired.", client.Socket.CloseStatusDescription);
        await client.Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).DefaultTimeout();
        Assert.Equal(DisconnectReason.AuthenticationExpired, await reasons.Task.DefaultTimeout());
        Assert.Equal(1, metrics.Sum("websockets.server.disconnects", "websockets.disconnect.reason", "authentication_expired"));
    }

    [Fact]
    public async Task TokenRefresh_OnAnEndpointWhosePolicyNamesTwoSchemes_IsCheckedByThoseSchemes()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await StartHostAsync(clock, endpointPolicy: "two-schemes");
        using var client = await ConnectAsync(host, CreateToken("alice", TimeSpan.FromMinutes(10)));

        var refreshed = await client.RequestAsync("$auth", new { token = CreateToken("alice", TimeSpan.FromMinutes(60), role: "admin") });

        Assert.False(refreshed.TryGetProperty("error", out _), refreshed.ToString());
        clock.Advance(TimeSpan.FromMinutes(30));
        Assert.True((await client.RequestAsync("whoami", null)).GetProperty("data").GetProperty("admin").GetBoolean());
    }

    [Fact]
    public async Task CloseOnAuthenticationExpirationOff_KeepsTheConnectionPastItsExpiry()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await StartHostAsync(clock, configureEndpoint: o => o.CloseOnAuthenticationExpiration = false);
        using var client = await ConnectAsync(host, CreateToken("alice", TimeSpan.FromMinutes(10)));

        clock.Advance(TimeSpan.FromHours(2));

        Assert.Equal("alice", (await client.RequestAsync("whoami", null)).GetProperty("data").GetProperty("name").GetString());
        Assert.Equal(WebSocketState.Open, client.Socket.State);
    }

    [Fact]
    public async Task TokenRefresh_MovesTheExpiryAndReplacesTheUser_WithoutReconnecting()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UtcNow);
        var reasons = new TaskCompletionSource<DisconnectReason>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = await StartHostAsync(clock, onDisconnected: r => reasons.TrySetResult(r));
        using var client = await ConnectAsync(host, CreateToken("alice", TimeSpan.FromMinutes(10)));
        var connection = Assert.Single(host.Registry.GetConnections());

        var refreshed = await client.RequestAsync("$auth", new { token = CreateToken("alice", TimeSpan.FromMinutes(60), role: "admin") });
        Assert.False(refreshed.TryGetProperty("error", out _), refreshed.ToString());

        // Past the first token's expiry: still open, and the new claims are the connection's user now.
        clock.Advance(TimeSpan.FromMinutes(30));
        var me = await client.RequestAsync("whoami", null);
        Assert.True(me.GetProperty("data").GetProperty("admin").GetBoolean());
        Assert.True(connection.User.IsInRole("admin"));
        Assert.Same(connection, Assert.Single(host.Registry.GetConnections()));

        clock.Advance(TimeSpan.FromMinutes(31));
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await client.Socket.ReceiveCloseAsync().DefaultTimeout());
        await client.Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).DefaultTimeout();
        Assert.Equal(DisconnectReason.AuthenticationExpired, await reasons.Task.DefaultTimeout());
    }

    [Fact]
    public async Task TokenRefresh_WithAnotherUsersOrAForgedOrNoToken_IsRefused_AndTheConnectionKeepsItsUserAndExpiry()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await StartHostAsync(clock);
        using var client = await ConnectAsync(host, CreateToken("alice", TimeSpan.FromMinutes(10)));

        var otherUser = await client.RequestAsync("$auth", new { token = CreateToken("mallory", TimeSpan.FromMinutes(60), role: "admin") });
        Assert.Equal("forbidden", otherUser.GetProperty("error").GetProperty("code").GetString());

        var forgedKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes("another key of at least 256 bits, that the server never saw"));
        var forged = await client.RequestAsync("$auth", new { token = CreateToken("alice", TimeSpan.FromMinutes(60), role: "admin", key: forgedKey) });
        Assert.Equal("unauthorized", forged.GetProperty("error").GetProperty("code").GetString());

        var empty = await client.RequestAsync("$auth", new { });
        Assert.Equal("bad_data", empty.GetProperty("error").GetProperty("code").GetString());

        var me = await client.RequestAsync("whoami", null);
        Assert.Equal("alice", me.GetProperty("data").GetProperty("name").GetString());
        Assert.False(me.GetProperty("data").GetProperty("admin").GetBoolean());

        clock.Advance(TimeSpan.FromMinutes(11));
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await client.Socket.ReceiveCloseAsync().DefaultTimeout());
    }

    [Fact]
    public async Task DotNetClient_RefreshTokenAsync_PresentsTheProvidersNextToken_AndTheConnectionOutlivesTheFirst()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await StartHostAsync(clock);
        var tokens = new Queue<string>([CreateToken("erin", TimeSpan.FromMinutes(10)), CreateToken("erin", TimeSpan.FromMinutes(60), role: "admin")]);
        await using var client = new global::WebSockets.Client.SocketClient(host.WebSocketUri("/ws"), new global::WebSockets.Client.SocketClientOptions
        {
            AccessTokenProvider = _ => ValueTask.FromResult<string?>(tokens.Dequeue()),
            AccessTokenPlacement = global::WebSockets.Client.AccessTokenPlacement.AuthorizationHeader,
            Reconnect = false,
        });
        await client.StartOrFailAsync().DefaultTimeout();
        Assert.False((await client.RequestAsync<JsonElement>("whoami").DefaultTimeout()).GetProperty("admin").GetBoolean());

        await client.RefreshTokenAsync().DefaultTimeout();
        clock.Advance(TimeSpan.FromMinutes(30));

        var me = await client.RequestAsync<JsonElement>("whoami").DefaultTimeout();
        Assert.Equal("erin", me.GetProperty("name").GetString());
        Assert.True(me.GetProperty("admin").GetBoolean());
        Assert.Empty(tokens);
    }

    [Fact]
    public async Task AuthorizeOnEventHandlerAndControllerMethods_RefusesWithForbidden_RunsNothing_AndKeepsTheConnection()
    {
        var ran = 0;
        await using var host = await StartHostAsync(
            new ManualTimeProvider(DateTimeOffset.UtcNow),
            configureNamespace: ns => ns.On("purge", [Authorize(Roles = "admin")] () => Interlocked.Increment(ref ran)),
            mapExtra: app => app.MapWebSocketController<AdminController>("/ws/admin"));

        using var metrics = new MetricRecorder(host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        using var user = await ConnectAsync(host, CreateToken("bob", TimeSpan.FromMinutes(10)));
        var purge = await user.RequestAsync("purge", null);
        Assert.Equal("forbidden", purge.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(1, metrics.Sum("websockets.server.rejected_messages", "websockets.rejection.reason", "forbidden"));
        Assert.Equal(0, Volatile.Read(ref ran));
        Assert.Equal("bob", (await user.RequestAsync("whoami", null)).GetProperty("data").GetProperty("name").GetString());

        // A refresh that brings the role lets the same connection through.
        await user.RequestAsync("$auth", new { token = CreateToken("bob", TimeSpan.FromMinutes(10), role: "admin") });
        var allowed = await user.RequestAsync("purge", null);
        Assert.False(allowed.TryGetProperty("error", out _), allowed.ToString());
        Assert.Equal(1, Volatile.Read(ref ran));

        // A controller: [Authorize(Policy)] on the class, [AllowAnonymous] on one method.
        using var controllerUser = await ConnectAsync(host, CreateToken("carol", TimeSpan.FromMinutes(10)), path: "/ws/admin");
        Assert.Equal("forbidden", (await controllerUser.RequestAsync("stats", null)).GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("pong", (await controllerUser.RequestAsync("ping", null)).GetProperty("data").GetString());
        using var controllerAdmin = await ConnectAsync(host, CreateToken("dave", TimeSpan.FromMinutes(10), role: "admin"), path: "/ws/admin");
        Assert.Equal("dave", (await controllerAdmin.RequestAsync("stats", null)).GetProperty("data").GetString());
    }

    [Fact]
    public async Task AuthorizeOnAnEvent_WithoutAuthorizationServices_FailsAtStartupWithTheFix()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => TestHost.StartAsync(
            s => s.AddSocketRegistry().AddNamespace("chat", ns => ns.On("purge", [Authorize] () => 1)),
            app => app.MapWebSocketEndpoint("/ws", "chat")));
        Assert.Contains("AddAuthorization()", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AuthorizeWithSchemesOrAnUnknownPolicy_OnAnEvent_OrAuthorizeOnARawOrBinaryHandler_FailsAtStartup()
    {
        static Task<TestHost> Start(Action<SocketNamespaceBuilder> events, Action<WebApplication>? map = null) => TestHost.StartAsync(
            s =>
            {
                s.AddAuthorization();
                s.AddSocketRegistry().AddNamespace("chat", events);
            },
            app => (map ?? (a => a.MapWebSocketEndpoint("/ws", "chat")))(app));

        var schemes = await Assert.ThrowsAsync<InvalidOperationException>(() => Start(ns => ns.On("nuke", [Authorize(AuthenticationSchemes = "Admin")] () => 1)));
        Assert.Contains("authentication schemes (Admin)", schemes.Message, StringComparison.Ordinal);

        var typo = await Assert.ThrowsAsync<InvalidOperationException>(() => Start(ns => ns.On("nuke", [Authorize(Policy = "admnis")] () => 1)));
        Assert.Contains("admnis", typo.Message, StringComparison.Ordinal);

        var binary = await Assert.ThrowsAsync<InvalidOperationException>(() => Start(ns => ns.OnBinary([Authorize] (byte[] data) => data)));
        Assert.Contains("binary handler", binary.Message, StringComparison.Ordinal);

        var raw = await Assert.ThrowsAsync<InvalidOperationException>(() => Start(
            _ => { },
            app => app.MapWebSocketEndpoint("/raw", [Authorize] (SocketMessage m) => m)));
        Assert.Contains("RequireAuthorization", raw.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TokenRefresh_ThatNoLongerMeetsTheEndpointPolicy_OrHasNoExpiry_IsRefused_AndTheConnectionKeepsItsUser()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await StartHostAsync(clock, endpointPolicy: "admins");
        using var client = await ConnectAsync(host, CreateToken("alice", TimeSpan.FromMinutes(10), role: "admin"));

        var demoted = await client.RequestAsync("$auth", new { token = CreateToken("alice", TimeSpan.FromMinutes(60)) });
        Assert.Equal("forbidden", demoted.GetProperty("error").GetProperty("code").GetString());

        var forever = await client.RequestAsync("$auth", new { token = CreateToken("alice", lifetime: null, role: "admin") });
        Assert.Equal("unauthorized", forever.GetProperty("error").GetProperty("code").GetString());

        Assert.True((await client.RequestAsync("whoami", null)).GetProperty("data").GetProperty("admin").GetBoolean());
        clock.Advance(TimeSpan.FromMinutes(11));
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await client.Socket.ReceiveCloseAsync().DefaultTimeout());
    }

    [Fact]
    public async Task TokenRefresh_WithAUserIdProviderThatReadsTheRequest_SeesTheUpgradesHeadersAndQuery()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await StartHostAsync(
            clock,
            userIdProvider: c => c.User.FindFirst("sub")?.Value is { } sub ? $"{c.Request.Headers["X-Tenant"]}/{c.Request.Query["app"]}/{sub}" : null);
        var socket = await host.ConnectAsync(
            $"/ws?access_token={CreateToken("alice", TimeSpan.FromMinutes(10))}&app=web",
            o => o.SetRequestHeader("X-Tenant", "acme"));
        using var client = new EventClient(socket, "client");
        var connection = Assert.Single(host.Registry.GetConnections());
        Assert.Equal("acme/web/alice", connection.UserId);

        var refreshed = await client.RequestAsync("$auth", new { token = CreateToken("alice", TimeSpan.FromMinutes(60)) });
        Assert.False(refreshed.TryGetProperty("error", out _), refreshed.ToString());

        clock.Advance(TimeSpan.FromMinutes(30));
        Assert.Equal("alice", (await client.RequestAsync("whoami", null)).GetProperty("data").GetProperty("name").GetString());
    }

    [Fact]
    public async Task AuthorizationHeader_AuthenticatesTheUpgrade_ButIsNotInConnectionHeaders()
    {
        await using var host = await StartHostAsync(new ManualTimeProvider(DateTimeOffset.UtcNow));
        var token = CreateToken("alice", TimeSpan.FromMinutes(10));
        var socket = await host.ConnectAsync("/ws", o =>
        {
            o.SetRequestHeader("Authorization", "Bearer " + token);
            o.SetRequestHeader("X-Trace", "t-1");
        });
        using var client = new EventClient(socket, "client");

        Assert.Equal("alice", (await client.RequestAsync("whoami", null)).GetProperty("data").GetProperty("name").GetString());
        var connection = Assert.Single(host.Registry.GetConnections());
        Assert.Equal("t-1", connection.Headers["X-Trace"].ToString());
        Assert.False(connection.Headers.ContainsKey("Authorization"));
    }

    // ---- Helpers ---------------------------------------------------------------------------------------------

    [Authorize(Policy = "admins")]
    [SocketNamespace("admin")]
    private sealed class AdminController : SocketController
    {
        public string? Stats() => Connection.User.Identity?.Name;

        [AllowAnonymous]
        public string Ping() => "pong";
    }

    private static string CreateToken(string user, TimeSpan? lifetime, string? role = null, SecurityKey? key = null)
    {
        var now = DateTime.UtcNow;
        var claims = new Dictionary<string, object> { ["sub"] = user, ["name"] = user };
        if (role is not null)
        {
            claims["role"] = role;
        }

        // Without a lifetime the token has no "exp" (the server must then be told not to require one).
        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = lifetime is not null }.CreateToken(new SecurityTokenDescriptor
        {
            Claims = claims,
            NotBefore = lifetime is null ? null : now.AddMinutes(-30),
            IssuedAt = lifetime is null ? null : now.AddMinutes(-30),
            Expires = now + lifetime,
            SigningCredentials = new SigningCredentials(key ?? s_key, SecurityAlgorithms.HmacSha256),
        });
    }

    private static async Task<EventClient> ConnectAsync(TestHost host, string token, string extraQuery = "", string path = "/ws")
    {
        var socket = await host.ConnectAsync($"{path}?access_token={token}{extraQuery}");
        return new EventClient(socket, "client");
    }

    private static Task<TestHost> StartHostAsync(
        ManualTimeProvider clock,
        Action<DisconnectReason>? onDisconnected = null,
        Action<WebSocketEndpointOptions>? configureEndpoint = null,
        Action<SocketNamespaceBuilder>? configureNamespace = null,
        Action<WebApplication>? mapExtra = null,
        string? endpointPolicy = null,
        Func<HttpContext, string?>? userIdProvider = null)
        => TestHost.StartAsync(
            s =>
            {
                s.AddSingleton<TimeProvider>(clock);
                s.AddLogging(l => l
                    .SetMinimumLevel(LogLevel.Debug)

                    // As the ASP.NET Core templates ship ("Microsoft.AspNetCore": "Warning"): hosting's own "Request
                    // starting" line prints every URL with its query string; docs/security.md says so.
                    .AddFilter<TestLoggerProvider>("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning));
                static void Jwt(JwtBearerOptions o)
                {
                    o.MapInboundClaims = false;
                    o.TokenValidationParameters = new TokenValidationParameters
                    {
                        IssuerSigningKey = s_key,
                        ValidateIssuer = false,
                        ValidateAudience = false,
                        ClockSkew = TimeSpan.Zero,
                        RequireExpirationTime = false,
                        NameClaimType = "name",
                        RoleClaimType = "role",
                    };
                    o.Events = new JwtBearerEvents
                    {
                        OnMessageReceived = context =>
                        {
                            context.Token ??= context.HttpContext.GetWebSocketAccessToken();
                            return Task.CompletedTask;
                        },
                    };
                }

                // A second scheme, for endpoints whose policy names several ("Bearer;Partner" at the upgrade).
                s.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(Jwt).AddJwtBearer("Partner", Jwt);
                s.AddAuthorization(o =>
                {
                    o.AddPolicy("admins", p => p.RequireRole("admin"));
                    o.AddPolicy("two-schemes", p => p.AddAuthenticationSchemes(JwtBearerDefaults.AuthenticationScheme, "Partner").RequireAuthenticatedUser());
                });
                s.AddSocketRegistry(o => o.UserIdProvider = userIdProvider ?? (c => c.User.FindFirst("sub")?.Value))
                    .AddNamespace("chat", ns =>
                    {
                        ns.On("whoami", (ClaimsPrincipal user) => new { name = user.Identity?.Name, admin = user.IsInRole("admin") });
                        configureNamespace?.Invoke(ns);
                        if (onDisconnected is not null)
                        {
                            ns.OnDisconnected((_, reason, _) =>
                            {
                                onDisconnected(reason);
                                return Task.CompletedTask;
                            });
                        }
                    });
            },
            app =>
            {
                app.UseAuthentication();
                app.UseAuthorization();
                var endpoint = app.MapWebSocketEndpoint("/ws", "chat", o => configureEndpoint?.Invoke(o));
                if (endpointPolicy is null)
                {
                    endpoint.RequireAuthorization();
                }
                else
                {
                    endpoint.RequireAuthorization(endpointPolicy);
                }

                app.MapGet("/api/me", (ClaimsPrincipal user) => user.Identity?.Name).RequireAuthorization();
                mapExtra?.Invoke(app);
            });
}
