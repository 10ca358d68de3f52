// Package tfprovider is the Terraform (and OpenTofu) provider of
// gatehouse: resources and data sources over the public Go client, so
// that the provider sees the API exactly as any other client does.
package tfprovider

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/gatehouse/gatehouse/client"
)

// Address is the provider's source address: registry.opentofu.org is
// where OpenTofu looks for "gatehouse/gatehouse"; Terraform users write
// the full address or use dev_overrides.
const Address = "registry.opentofu.org/gatehouse/gatehouse"

// New returns a constructor of the provider, as providerserver.Serve
// takes it.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &gatehouseProvider{version: version} }
}

type gatehouseProvider struct{ version string }

type providerModel struct {
	Server   types.String `tfsdk:"server"`
	APIToken types.String `tfsdk:"api_token"`
}

func (p *gatehouseProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "gatehouse"
	resp.Version = p.version
}

func (p *gatehouseProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Manages a gatehouse server's service accounts, users, groups, roles, tokens, applications and LDAP providers.",
		Attributes: map[string]schema.Attribute{
			"server": schema.StringAttribute{
				Optional:    true,
				Description: "URL of the gatehouse server, such as https://gatehouse.example.com. Default: GATEHOUSE_SERVER, else " + client.DefaultServer + ".",
			},
			"api_token": schema.StringAttribute{
				Optional:    true,
				Sensitive:   true,
				Description: "An API token (gat_...) of an account allowed to manage what the configuration declares. Default: GATEHOUSE_API_TOKEN, or the file named by GATEHOUSE_API_TOKEN_FILE.",
			},
		},
	}
}

func (p *gatehouseProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// A value known only after apply (from another resource) cannot
	// make a client now; Terraform calls Configure again when it is.
	if cfg.Server.IsUnknown() || cfg.APIToken.IsUnknown() {
		return
	}
	server := cfg.Server.ValueString()
	if server == "" {
		server = os.Getenv(client.EnvServer)
	}
	if server == "" {
		server = client.DefaultServer
	}
	token := cfg.APIToken.ValueString()
	if token == "" {
		var err error
		if token, err = client.TokenFromEnv(); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("api_token"), "Cannot read the API token", err.Error())
			return
		}
	}
	if token == "" {
		resp.Diagnostics.AddAttributeError(path.Root("api_token"), "No API token",
			"Set api_token in the provider block, or GATEHOUSE_API_TOKEN (or GATEHOUSE_API_TOKEN_FILE) in the environment.")
		return
	}
	c, err := client.New(server, client.WithToken(token), client.WithUserAgent("terraform-provider-gatehouse/"+p.version))
	if err != nil {
		// New's errors never quote the URL, which may hold a password.
		resp.Diagnostics.AddAttributeError(path.Root("server"), "Invalid server", "server "+err.Error())
		return
	}
	resp.ResourceData = c
	resp.DataSourceData = c
}

func (p *gatehouseProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		newServiceAccountResource,
		newUserResource,
		newGroupResource,
		newGroupMemberResource,
		newRoleResource,
		newRoleAssignmentResource,
		newTokenResource,
		newApplicationResource,
		newApplicationBindingResource,
		newLDAPProviderResource,
		newOIDCIssuerResource,
		newTrustPolicyResource,
	}
}

func (p *gatehouseProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{
		newUserDataSource,
		newServiceAccountDataSource,
		newPermissionsDataSource,
	}
}

// withClient is embedded by every resource: it receives the provider's
// client.
type withClient struct{ c *client.Client }

func (w *withClient) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	w.c = configured(req.ProviderData, &resp.Diagnostics)
}

// withDataClient is withClient for data sources, whose requests have
// their own types.
type withDataClient struct{ c *client.Client }

func (w *withDataClient) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	w.c = configured(req.ProviderData, &resp.Diagnostics)
}

func configured(data any, diags *diag.Diagnostics) *client.Client {
	if data == nil { // not configured yet (validation)
		return nil
	}
	c, ok := data.(*client.Client)
	if !ok {
		diags.AddError("Unexpected provider data", fmt.Sprintf("expected *client.Client, got %T", data))
	}
	return c
}

// apiError reports a refused call. The API's 400 names each bad field:
// a field that is one of attrs becomes an error on that attribute
// (permissions[2] on permissions), so Terraform points at the line.
// Client errors hold what the server said, never a key or a request body.
func apiError(diags *diag.Diagnostics, summary string, err error, attrs ...string) {
	apiErrorSent(diags, summary, err, nil, attrs...)
}

// apiErrorSent is apiError for a request that sent sets as lists: an
// entry the server names by its place in the list (permissions[2]) is
// an error on that element of the set, which has no order, and is named
// by its value.
func apiErrorSent(diags *diag.Diagnostics, summary string, err error, sent map[string][]string, attrs ...string) {
	var e *client.Error
	if errors.As(err, &e) && len(e.Errors) > 0 {
		for _, fe := range e.Errors {
			field, rest, indexed := strings.Cut(fe.Field, "[")
			detail := fmt.Sprintf("%s: %s (%s)", fe.Field, fe.Message, e.Error())
			// A map's key: conditions.ref is the entry ref of conditions.
			if parent, key, keyed := strings.Cut(field, "."); keyed && !indexed && containsString(attrs, parent) {
				diags.AddAttributeError(path.Root(parent).AtMapKey(key), summary, detail)
				continue
			}
			if !containsString(attrs, field) {
				diags.AddError(summary, detail)
				continue
			}
			at := path.Root(field)
			if i, err := strconv.Atoi(strings.TrimSuffix(rest, "]")); indexed && err == nil && i >= 0 && i < len(sent[field]) {
				v := sent[field][i]
				at = at.AtSetValue(types.StringValue(v))
				detail = fmt.Sprintf("%s %q: %s (%s)", field, v, fe.Message, e.Error())
			}
			diags.AddAttributeError(at, summary, detail)
		}
		return
	}
	diags.AddError(summary, err.Error())
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// isNotFound says whether Read should forget the object: it was deleted
// outside Terraform, which then plans to create it again.
func isNotFound(err error) bool { return errors.Is(err, client.ErrNotFound) }

// splitID splits an import identifier of n parts joined by "/".
func splitID(id string, n int, format string, diags *diag.Diagnostics) []string {
	parts := strings.Split(id, "/")
	if len(parts) != n {
		diags.AddError("Invalid import identifier", fmt.Sprintf("%q: expected %s", id, format))
		return nil
	}
	for _, p := range parts {
		if p == "" {
			diags.AddError("Invalid import identifier", fmt.Sprintf("%q: expected %s", id, format))
			return nil
		}
	}
	return parts
}
