"""Web dashboard of Tierflow: server-rendered pages for banks, suppliers, core enterprises and auditors."""
