// Samples of docs/admin.md, docs/observability.md and docs/packaging.md.
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using WebSockets;

namespace DocsSnippets.Operations;

public static class OperationsExamples
{
    public static void Admin(WebApplicationBuilder builder)
    {
        #region admin-setup
        builder.Services.AddSocketRegistry();
        builder.Services.AddAuthentication().AddJwtBearer();                 // or cookies, or any scheme
        builder.Services.AddAuthorization(o => o.AddPolicy("admins", p => p.RequireRole("admin")));
        builder.Services.AddHealthChecks().AddSocketRegistry();              // optional: health shows on the dashboard

        var app = builder.Build();
        app.MapWebSocketAdmin("/admin/sockets").RequireAuthorization("admins");
        #endregion
    }

    public static void Observability(WebApplicationBuilder builder)
    {
        #region observability-health
        builder.Services.AddSocketRegistry().AddRedisBackplane("localhost:6379");
        builder.Services.AddHealthChecks()
            .AddSocketRegistry()        // WebSockets
            .AddRedisBackplane();       // WebSockets.Redis

        var app = builder.Build();
        app.MapHealthChecks("/health");
        #endregion
    }

    public static void AotJson(WebApplicationBuilder builder)
    {
        #region packaging-aot-json
        builder.Services.AddSocketRegistry(o => o.JsonSerializerOptions.TypeInfoResolverChain.Insert(0, AppJsonContext.Default));
        #endregion
    }
}

#region packaging-aot-json-context
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(ChatLine))]
internal sealed partial class AppJsonContext : JsonSerializerContext;
#endregion

internal sealed record ChatLine(string Text);
