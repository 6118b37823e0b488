using System.Net;
using System.Security.Claims;
using System.Text.Encodings.Web;
using System.Text.RegularExpressions;
using Hangfire;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OfflineTasks.Gate;
using OfflineTasks.Hangfire;
using OfflineTasks.Hosting;
using OfflineTasks.Tests.Infrastructure;

namespace OfflineTasks.Tests.Dashboard;

/// <summary>
/// The dashboard in an app of the user's own, behind an authorization policy (the README's example): only the policy's
/// users get in, and a switch records the signed-in user as its actor.
/// </summary>
public sealed partial class DashboardPolicyTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Behind_an_authorization_policy_only_its_users_get_in_and_a_switch_records_the_signed_in_user()
    {
        await using var schema = new TestSchema();
        await schema.InitializeAsync();
        HangfireSetup.EnsureInstalled();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["OfflineTasks:ConnectionString"] = schema.Server.ConnectionString,
            ["OfflineTasks:Schema"] = schema.Name,
            ["OfflineTasks:Gate:ProbeInterval"] = "00:00:00.25",
            ["OfflineTasks:Gate:Shards:users-7:Masters:0:Port"] = "1",
            ["OfflineTasks:Gate:Shards:users-7:Masters:0:User"] = "probe",
            ["OfflineTasks:Gate:Shards:users-7:Masters:1:Port"] = "2",
            ["OfflineTasks:Gate:Shards:users-7:Masters:1:User"] = "probe",
        });
        builder.Services.AddSingleton<JobStorage>(schema.Storage);
        builder.Services.AddHangfire(c => c.UseOfflineTasks().UseLogProvider(HangfireSetup.LogProvider));
        builder.Services.AddOfflineTasks(builder.Configuration);
        builder.Services.AddAuthentication(HeaderUser.SchemeName).AddScheme<AuthenticationSchemeOptions, HeaderUser>(HeaderUser.SchemeName, null);
        builder.Services.AddAuthorization(o => o.AddPolicy("ops", p => p.RequireAuthenticatedUser().RequireRole("ops")));
        await using var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapHangfireDashboardWithAuthorizationPolicy("ops", "/hangfire");
        await app.StartAsync();
        var dashboard = app.Urls.First() + "/hangfire";

        using var anonymous = new HttpClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(dashboard + "/offlinetasks/shards")).StatusCode);
        using var guest = Client("guest", "viewers");
        Assert.Equal(HttpStatusCode.Forbidden, (await guest.GetAsync(dashboard + "/offlinetasks/shards")).StatusCode);

        using var carol = Client("carol", "ops");
        var page = await carol.GetStringAsync(dashboard + "/offlinetasks/shard/users-7");
        var token = Token().Match(page).Groups[1].Value;
        using var form = new FormUrlEncodedContent([new("__RequestVerificationToken", token), new("action", "force_closed"), new("reason", "replica rebuild")]);
        var set = await carol.PostAsync(dashboard + "/offlinetasks/shard/users-7/switch", form);
        Assert.Equal(HttpStatusCode.SeeOther, set.StatusCode);
        var audit = Assert.Single(await schema.Store.GetSwitchAuditAsync("users-7"));
        Assert.Equal(("force_closed", "carol", "replica rebuild"), (audit.Action, audit.Actor, audit.Reason));
        var state = await Eventually.Until(async () => (await schema.Store.GetShardStatesAsync()).SingleOrDefault(), s => s?.Reason.StartsWith("forced", StringComparison.Ordinal) == true,
            Timeout, "the switch applied");
        Assert.StartsWith("forced closed by carol: replica rebuild (measured: closed: ", state!.Reason, StringComparison.Ordinal);
        await app.StopAsync();
    }

    private static HttpClient Client(string user, string role)
    {
        var client = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false });
        client.DefaultRequestHeaders.Add(HeaderUser.UserHeader, user);
        client.DefaultRequestHeaders.Add(HeaderUser.RoleHeader, role);
        return client;
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex Token();

    /// <summary>Signs in whoever the request's headers name (a test stand-in for the app's real sign-in).</summary>
    private sealed class HeaderUser(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        public const string SchemeName = "test-header";
        public const string UserHeader = "X-Test-User";
        public const string RoleHeader = "X-Test-Role";

        protected override Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            if (!Request.Headers.TryGetValue(UserHeader, out var user))
            {
                return Task.FromResult(AuthenticateResult.NoResult());
            }

            var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, user.ToString()), new Claim(ClaimTypes.Role, Request.Headers[RoleHeader].ToString())], SchemeName);
            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
        }
    }
}
