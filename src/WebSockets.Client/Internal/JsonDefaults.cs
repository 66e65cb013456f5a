using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace WebSockets.Client.Internal;

/// <summary>
/// The serializer options used when the application gives none: the web defaults (camelCase, case-insensitive reads),
/// read-only, with the reflection-based resolver only where reflection-based serialization is enabled.
/// </summary>
/// <remarks>
/// This is what ASP.NET Core's own <c>JsonOptions</c> does. In a trimmed or Native AOT app the SDK turns the
/// <c>System.Text.Json.JsonSerializer.IsReflectionEnabledByDefault</c> feature switch off, and the app sets
/// <see cref="SocketClientOptions.JsonSerializerOptions"/> to options with its <see cref="JsonSerializerContext"/>.
/// </remarks>
internal static class JsonDefaults
{
    public static JsonSerializerOptions Web { get; } = Create();

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            TypeInfoResolver = JsonSerializer.IsReflectionEnabledByDefault ? CreateReflectionResolver() : JsonTypeInfoResolver.Combine(),
        };
        options.MakeReadOnly();
        return options;
    }

    /// <summary>
    /// Gives options that have no resolver (<c>new JsonSerializerOptions(...)</c>) the one System.Text.Json would fill in
    /// itself on first use; the client calls <see cref="JsonSerializerOptions.GetTypeInfo"/>, which does not. Returns them.
    /// </summary>
    public static JsonSerializerOptions WithResolver(JsonSerializerOptions options)
    {
        if (options.TypeInfoResolver is null && !options.IsReadOnly)
        {
            options.TypeInfoResolver = JsonSerializer.IsReflectionEnabledByDefault ? CreateReflectionResolver() : JsonTypeInfoResolver.Combine();
        }

        return options;
    }

    [UnconditionalSuppressMessage("Trimming", "IL2026:RequiresUnreferencedCode", Justification =
        "Called only when JsonSerializer.IsReflectionEnabledByDefault is true. Trimmed and Native AOT apps have that feature switch off " +
        "(JsonSerializerIsReflectionEnabledByDefault is false unless the app turns it on), and the trimmer removes this call.")]
    [UnconditionalSuppressMessage("AOT", "IL3050:RequiresDynamicCode", Justification =
        "Called only when JsonSerializer.IsReflectionEnabledByDefault is true, which Native AOT apps turn off; see IL2026 above.")]
    private static DefaultJsonTypeInfoResolver CreateReflectionResolver() => new();
}
