using System.Security.Cryptography;
using System.Text;

namespace WebSockets.Internal;

/// <summary>
/// The dashboard page: one self-contained HTML file (an embedded resource) with one inline style and one inline
/// script, allowed by their SHA-256 hashes in a Content-Security-Policy that allows nothing else: no other script, no
/// external resource, no framing, no form posts. The script polls the JSON with <c>fetch</c> and renders with
/// <c>textContent</c> only.
/// </summary>
internal static class SocketAdminDashboard
{
    internal const string ResourceName = "WebSockets.Admin.dashboard.html";

    private static readonly Lazy<(byte[] Html, string Policy)> s_page = new(Load);

    public static byte[] Html => s_page.Value.Html;

    public static string ContentSecurityPolicy => s_page.Value.Policy;

    private static (byte[] Html, string Policy) Load()
    {
        using var stream = typeof(SocketAdminDashboard).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The embedded resource '{ResourceName}' is missing from the WebSockets assembly.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var html = reader.ReadToEnd();
        var policy =
            "default-src 'none'; " +
            $"script-src '{Hash(html, "<script>", "</script>")}'; " +
            $"style-src '{Hash(html, "<style>", "</style>")}'; " +
            "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
        return (Encoding.UTF8.GetBytes(html), policy);
    }

    /// <summary>The CSP source of the one element between <paramref name="open"/> and <paramref name="close"/>.</summary>
    private static string Hash(string html, string open, string close)
    {
        var start = html.IndexOf(open, StringComparison.Ordinal);
        var end = html.IndexOf(close, StringComparison.Ordinal);
        if (start < 0 || end < start || html.IndexOf(open, start + open.Length, StringComparison.Ordinal) >= 0)
        {
            throw new InvalidOperationException($"The dashboard must have exactly one {open} element.");
        }

        var content = html.AsSpan(start + open.Length, end - start - open.Length);
        return "sha256-" + Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(content.ToString())));
    }
}
